// @sealkeep/sdk — the client SDK and the sealkeep command-line tool.
export { requestProof, authorizationHeader, selfSignedAuthorizationHeader, type ProofInput } from './request-proof.js';
export { signedRequest, sendRequest, SealkeepError, type Signer, type EncodedBody } from './client.js';
export { delegationGrant, exchangeToken, subjectTokenTypeOf, type GrantInput, type ExchangeInput, type ExchangedToken } from './delegation.js';
export { saveProfile, loadProfile, type Profile } from './profile.js';
export { importKey, importNonce, ImportEvidenceRejected, type ImportClient, type ImportKeyRequest, type ImportKeyResult, type ImportJob, type ImportedKey, type Cia, type CiaLevel } from './byok/import.js';
export { verifyImportEvidence, importJobQualifyingData, IMPORT_EVIDENCE_FORMAT, type ImportEvidence, type ImportEvidenceVerdict, type EvidenceCheck, type VerifyImportEvidenceOptions } from './byok/evidence.js';
export { wrapKeyMaterial, aesKeyWrapWithPadding, rsaOaepSha256Encrypt, WRAPPING_ALGORITHMS, KWP_ALTERNATIVE_IV, MAX_RSA_OAEP_MATERIAL, type WrappingAlgorithm } from './byok/wrap.js';
export { readKeyFile, keyMaterialOf, checkMaterial, KeyMaterialError, KEY_TYPES, type KeyType, type KeyMaterial } from './byok/key-material.js';
export { activateCredential, attestToService, type AttestOptions, type HostAttestation, type HostChallenge } from './host/attest.js';
export {
  openBlockSession,
  BlockSession,
  IntegrityError,
  SessionEndedError,
  ReleaseRefusedError,
  ServiceIdentityError,
  VolumeStateDiffersError,
  fetchServiceKey,
  blockProblem,
  MAX_BATCH_SECTOR_BYTES,
  type BlockOp,
  type BlockSessionInfo,
  type Integrity,
  type OpenBlockSessionOptions,
  type VolumeAttestation,
  type VolumeStateAnswer,
  type VolumeStateMoment,
} from './host/block-session.js';
export { AnswerSealError } from './host/block-transport.js';
export { verifyServiceKeyEvidence, serviceDigestsOf, type VerifyServiceKeyOptions, type ServiceDigests } from '@sealkeep/attestation';
export { startVm, vmBootLog, vmReferenceValues, digestFile, DEFAULT_FIRMWARE, type StartVmOptions, type VmBoot, type VmBootInputs } from './host/vm-start.js';
export {
  openHostPlatform,
  openHostTpm,
  manufactureHostTpm,
  attestHost,
  launchDigests,
  EMULATED_SINIT,
  HOST_QUOTED_PCRS,
  type HostPlatform,
  type HostPlatformOptions,
  type HostTpmConnection,
  type Manufactured,
} from './host/host-platform.js';
