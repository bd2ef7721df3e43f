// @sealkeep/attestation — offline verification of evidence: the tamper-evident audit trail
// (entries, TPM-signed checkpoints, JSON Lines export, and the verifier), see src/audit/, and
// host and VM evidence bundles (quote, event logs, certificate chains, reference values), see
// src/evidence/; volume attestations (src/volume/) and VM evidence bundles with their signed boot
// statement (src/vm/), both signed by the service TPM's attestation key (src/statement/); the
// service's measured start and its signing key's evidence (src/service/).

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
export * from './service/service-key.js';
export {
  verifyEvidence, type VerifyEvidenceOptions, type EvidenceResult, type EvidenceSummary,
} from './evidence/verify.js';
export {
  parseBundle, BUNDLE_FORMAT, BUNDLE_VERSION, type EvidenceBundle, type ParsedBundle, type HierarchyName,
} from './evidence/bundle.js';
export { quoteBundle, type QuoteBundleInput } from './evidence/quote-bundle.js';
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
export {
  verifyVolumeAttestation, type VerifyVolumeOptions, type VolumeResult, type VolumeSummary, type VolumeFinding,
} from './volume/verify.js';
export {
  encodeVolumeStatement, decodeVolumeStatement, VOLUME_ATTESTATION_FORMAT, VOLUME_STATEMENT_MAGIC, VOLUME_STATEMENT_VERSION, VOLUME_STATEMENT_LENGTH,
  type VolumeAttestation, type VolumeStatement,
} from './volume/format.js';
export { VOLUME_FINDINGS, VOLUME_FINDING_IDS, type VolumeFindingId } from './volume/findings.js';
export { formatVolumeReport } from './volume/report.js';
export {
  verifyVmEvidence, type VerifyVmEvidenceOptions, type VmEvidenceResult, type VmEvidenceSummary, type VmEvidenceFinding,
} from './vm/verify.js';
export {
  encodeVmBootStatement, decodeVmBootStatement, eventLogDigest, VM_EVIDENCE_FORMAT, VM_EVIDENCE_VERSION, VM_STATEMENT_MAGIC, VM_STATEMENT_VERSION,
  VM_STATEMENT_LENGTH, VM_STATEMENT_VPCRS,
  type VmEvidenceBundle, type VmBootStatement, type HostEvidence, type PolicyResult as VmPolicyResult,
} from './vm/format.js';
export { VM_FINDINGS, VM_FINDING_IDS, type VmFindingId, type HostFindingId } from './vm/findings.js';
export { formatVmEvidenceReport } from './vm/report.js';
export { Findings as StatementFindings, SIGNER_FINDINGS, type Finding as StatementFinding } from './statement/findings.js';
