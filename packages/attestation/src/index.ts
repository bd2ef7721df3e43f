// @sealkeep/attestation — offline verification of evidence: the tamper-evident audit trail
// (entries, TPM-signed checkpoints, JSON Lines export, and the verifier), see src/audit/, and
// host and VM evidence bundles (quote, event logs, certificate chains, reference values), see
// src/evidence/.

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
export {
  verifyEvidence, type VerifyEvidenceOptions, type EvidenceResult, type EvidenceSummary,
} from './evidence/verify.js';
export {
  parseBundle, BUNDLE_FORMAT, BUNDLE_VERSION, type EvidenceBundle, type ParsedBundle, type HierarchyName,
} from './evidence/bundle.js';
export {
  FINDINGS as EVIDENCE_FINDINGS, FINDING_IDS as EVIDENCE_FINDING_IDS, FindingCollector as EvidenceFindingCollector,
  type Finding as EvidenceFinding, type FindingId as EvidenceFindingId, type Severity as EvidenceSeverity,
} from './evidence/findings.js';
export type { ReferencePolicy, ReferenceEvent } from './evidence/policy.js';
export { formatEvidenceReport, formatEvidenceFinding } from './evidence/report.js';
export {
  exportCheckquote, exportChains, writeToolFiles, ExportError as EvidenceExportError, type CheckquoteExport, type ChainExport,
} from './evidence/tools-export.js';
export { main as evidenceVerifyMain, type CliIo as EvidenceCliIo } from './evidence/cli.js';
