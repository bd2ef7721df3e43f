// @sealkeep/sdk — the client SDK and the sealkeep command-line tool.
export { requestProof, authorizationHeader, selfSignedAuthorizationHeader, type ProofInput } from './request-proof.js';
