// @sealkeep/sdk — the client SDK and the sealkeep command-line tool.
export { requestProof, authorizationHeader, selfSignedAuthorizationHeader, type ProofInput } from './request-proof.js';
export { signedRequest, sendRequest, SealkeepError, type Signer, type EncodedBody } from './client.js';
export { delegationGrant, exchangeToken, subjectTokenTypeOf, type GrantInput, type ExchangeInput, type ExchangedToken } from './delegation.js';
export { saveProfile, loadProfile, type Profile } from './profile.js';
