// @sealkeep/attestation — offline verification of evidence. So far: the tamper-evident audit
// trail (entries, TPM-signed checkpoints, JSON Lines export, and the verifier), see src/audit/.

export { canonicalize, canonicalHash, sha256Hex, CanonicalError } from './audit/canonical.js';
export {
  sealEntry, entryHash, checkEntryShape, findSecrets, AuditEntryError, GENESIS_HASH, MAX_STRING_LENGTH,
  AUDIT_PLANES, AUDIT_OUTCOMES,
  type AuditEntry, type AuditEntryFields, type AuditPlane, type AuditOutcome, type AuditDetailValue, type ChainHead,
} from './audit/entry.js';
export {
  makeCheckpoint, verifyCheckpoint, checkpointMessage, checkCheckpointShape, ecdsaP1363, akKeyFingerprint, parseAkKey,
  CheckpointError,
  type Checkpoint, type CheckpointSigAlg, type CheckpointSigner, type CheckpointCheck, type TpmClockInfo,
} from './audit/checkpoint.js';
export {
  toJsonLines, parseJsonLines, parseJsonLinesAsync, parseAuditLine, isCheckpoint, MAX_LINE_LENGTH,
  type AuditItem, type ParsedLine,
} from './audit/export.js';
export { verifyAuditLog, verifyAuditLogAsync, AuditVerifier, type VerifyOptions } from './audit/verify.js';
export {
  formatReport, formatFinding, FINDING_IDS,
  type AuditReport, type AuditFinding, type AuditFindingId, type AuditSeverity, type AuditCounts,
} from './audit/report.js';
export * from './service/measured-start.js';
