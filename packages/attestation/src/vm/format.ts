// The VM evidence bundle (format "sealkeep-vm-evidence", version 1; README.md): its JSON type as
// the service writes it (GET /v1/vms/{vmId}/evidence, services/kms/src/features/vms/evidence.ts),
// and the boot statement the service TPM's attestation key signs in it. The vTPM lives inside the
// service, so the service TPM attests the vTPM state it holds:
//
//   statement = "SKVB" ‖ 0x01 ‖ VM id (16) ‖ boot id (16) ‖ host id (16) ‖ booted at (ms since
//               1970) u64 ‖ SHA-256(canonical JSON of the CEL boot log) (32)
//               ‖ vPCR 0 … vPCR 15 (SHA-256 bank, 32 each)                          big-endian
//
// 605 bytes. The canonical JSON is the audit log's (../audit/canonical.ts: RFC 8785 for these
// values), so the log's digest does not depend on how a store or a transport ordered its keys.
// This module is the one definition the service and the verifier share.

import { createHash } from 'node:crypto';
import { VM_PCR_COUNT, type VpcrReferences } from '@sealkeep/tpm';
import { canonicalize } from '../audit/canonical.js';
import type { EvidenceBundle } from '../evidence/bundle.js';
import type { FindingSink } from '../statement/findings.js';
import { uuidBytes, uuidOf } from '../statement/signer.js';

export const VM_EVIDENCE_FORMAT = 'sealkeep-vm-evidence';
export const VM_EVIDENCE_VERSION = 1;
export const VM_STATEMENT_MAGIC = 'SKVB';
export const VM_STATEMENT_VERSION = 1;
export const VM_STATEMENT_VPCRS = VM_PCR_COUNT;
export const VM_STATEMENT_LENGTH = 4 + 1 + 3 * 16 + 8 + 32 + VM_STATEMENT_VPCRS * 32;

export type PolicyResult = 'match' | 'mismatch' | 'no-policy';

/** A host's last accepted attestation, as GET /v1/hosts/{hostId}/evidence answers it. */
export interface HostEvidence {
  hostId: string;
  /** The nonce the host's quote answered, hex. */
  nonce: string;
  attestedAt: string;
  attestedUntil: string | null;
  bundle: EvidenceBundle;
}

export interface VmEvidenceBundle {
  format: typeof VM_EVIDENCE_FORMAT;
  version: typeof VM_EVIDENCE_VERSION;
  /** ISO 8601, when the service assembled the bundle (informational). */
  createdAt: string;
  vmId: string;
  tenantId: string;
  /** The VM's name in its tenant (informational). */
  name?: string;
  /** The VM's current boot, as the service measured it into the VM's vTPM. */
  boot: {
    bootId: string;
    bootedAt: string;
    /** The host the VM booted on (its id in the service). */
    hostId: string;
    /** The measured-boot log, TCG CEL JSON (sha256 digests), as the service extended it. */
    eventLog: unknown[];
    /** The vPCRs the vTPM held after the log: SHA-256 bank, PCR "0"–"15" → hex. */
    vpcrs: { sha256: Record<string, string> };
    /** Whether they met the release policy in force at boot. */
    policyResult: PolicyResult;
  };
  /** The release policy's reference values in force now (null: no release policy). */
  referenceValues: VpcrReferences | null;
  /** The vPCRs they imply (expectedVpcrs of packages/tpm), SHA-256 bank, hex. */
  expectedVpcrs: { sha256: Record<string, string> } | null;
  /** The host's last accepted attestation (null: none yet). */
  host: HostEvidence | null;
  /** The service's own code and configuration digests (its measured start); carried, not checked. */
  serviceMeasurements: { codeDigest: string; configurationDigest: string } | null;
  /** The statement above, its signature (ECDSA P-256 / SHA-256, DER, base64) and the AK certificate. */
  bootStatement: { statement: string; signature: string; akCertificatePem: string | null };
}

export interface VmBootStatement {
  vmId: string;
  bootId: string;
  hostId: string;
  bootedAtMs: bigint;
  /** SHA-256 of the canonical JSON of the boot log. */
  eventLogDigest: Buffer;
  /** vPCRs 0–15, SHA-256 bank. */
  vpcrs: Buffer[];
}

/** SHA-256 of the canonical JSON of a CEL log (an array of records). */
export function eventLogDigest(log: unknown): Buffer {
  return createHash('sha256').update(canonicalize(log), 'utf8').digest();
}

export function encodeVmBootStatement(s: Omit<VmBootStatement, 'bootedAtMs'> & { bootedAtMs: number | bigint }): Buffer {
  const ids = [s.vmId, s.bootId, s.hostId].map((id) => {
    const b = uuidBytes(id);
    if (!b) throw new RangeError(`not a UUID: ${JSON.stringify(id)}`);
    return b;
  });
  if (s.eventLogDigest.length !== 32) throw new RangeError('the event log digest is 32 bytes');
  if (s.vpcrs.length !== VM_STATEMENT_VPCRS || s.vpcrs.some((v) => v.length !== 32)) throw new RangeError(`${VM_STATEMENT_VPCRS} vPCR values of 32 bytes`);
  const at = Buffer.alloc(8);
  at.writeBigUInt64BE(BigInt(s.bootedAtMs));
  return Buffer.concat([Buffer.from(VM_STATEMENT_MAGIC, 'latin1'), Buffer.of(VM_STATEMENT_VERSION), ...ids, at, s.eventLogDigest, ...s.vpcrs]);
}

type StatementFindingId = 'statement-malformed' | 'statement-magic-invalid' | 'statement-version-unsupported';

/** The statement's fields, or null after a finding (wrong length, magic or version). */
export function decodeVmBootStatement(b: Buffer, f: FindingSink<StatementFindingId>): VmBootStatement | null {
  let good = true;
  if (b.length !== VM_STATEMENT_LENGTH) {
    f.add('statement-malformed', `the statement is ${b.length} bytes; a version ${VM_STATEMENT_VERSION} VM boot statement is ${VM_STATEMENT_LENGTH}`, {
      expected: String(VM_STATEMENT_LENGTH),
      found: String(b.length),
    });
    good = false;
  }
  if (b.subarray(0, 4).toString('latin1') !== VM_STATEMENT_MAGIC) {
    f.add('statement-magic-invalid', 'the statement is not a VM boot statement', { expected: VM_STATEMENT_MAGIC, found: b.subarray(0, 4).toString('hex') });
    good = false;
  }
  if (b.length > 4 && b[4] !== VM_STATEMENT_VERSION) {
    f.add('statement-version-unsupported', `this verifier reads VM boot statements of version ${VM_STATEMENT_VERSION}`, { expected: String(VM_STATEMENT_VERSION), found: String(b[4]) });
    good = false;
  }
  if (!good) return null;
  const base = 5 + 48 + 8 + 32;
  return {
    vmId: uuidOf(b.subarray(5, 21)),
    bootId: uuidOf(b.subarray(21, 37)),
    hostId: uuidOf(b.subarray(37, 53)),
    bootedAtMs: b.readBigUInt64BE(53),
    eventLogDigest: Buffer.from(b.subarray(61, 93)),
    vpcrs: Array.from({ length: VM_STATEMENT_VPCRS }, (_, i) => Buffer.from(b.subarray(base + 32 * i, base + 32 * (i + 1)))),
  };
}
