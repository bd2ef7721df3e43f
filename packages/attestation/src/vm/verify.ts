// verifyVmEvidence(): a VM evidence bundle checked offline, trusting only the reviewer's roots
// (and, if they pass them, their own reference values). Every check runs and adds its findings:
//   - the bundle's shape;
//   - the boot statement: the AK certificate's path to a trusted root and TCG AK profile, the
//     ECDSA P-256 / SHA-256 signature with its key, magic, version and length, and each signed
//     field against the bundle's (VM, boot, host, time, the boot log's digest, each vPCR);
//   - the boot log: read record by record as the evidence verifier reads a log (order, record
//     numbers, digests recomputable from their data), checked against Sealkeep's vPCR layout,
//     and replayed (packages/tpm replay(), SHA-256 bank) to the signed vPCRs, one finding per vPCR;
//   - the reference values (the reviewer's, else the bundle's with a warning): every vPCR they
//     imply (expectedVpcrs of packages/tpm) against the signed one, one finding per vPCR; the
//     bundle's expectedVpcrs and recorded policy result against what its reference values imply;
//   - the host's last accepted attestation, with the evidence verifier (verifyEvidence), its
//     findings prefixed "host:", and its host id against the signed one.
// From the statement on, the signed values are the truth; the bundle's own fields only repeat them.

import { CelError, expectedVpcrs, checkVmBootLog, replay, VmBootLogError, type VpcrReferences } from '@sealkeep/tpm';
import { decodeBase64, isHex, isObject, jsonObjectOf } from '../evidence/bundle.js';
import { readLog } from '../evidence/event-log.js';
import { FindingCollector } from '../evidence/findings.js';
import { verifyEvidence, type EvidenceSummary, type VerifyEvidenceOptions } from '../evidence/verify.js';
import { Findings, type Finding } from '../statement/findings.js';
import { checkAkSigner, checkStatementSignature, isoOf, type TrustedRoots } from '../statement/signer.js';
import { decodeVmBootStatement, eventLogDigest, VM_EVIDENCE_FORMAT, VM_EVIDENCE_VERSION, VM_STATEMENT_VPCRS, type PolicyResult, type VmBootStatement } from './format.js';
import { VM_FINDINGS, type VmFindingId } from './findings.js';

export interface VerifyVmEvidenceOptions {
  /** The reviewer's trusted roots: the service TPM's manufacturer, and the hosts' TPM manufacturers. */
  trustedRoots: TrustedRoots;
  /** The VM's reference values as the reviewer knows them (from its tenant); default the bundle's, with a warning. */
  referenceValues?: VpcrReferences;
  /** For the host's evidence (verifyEvidence's options); default the nonce the bundle carries and its own reference values. */
  host?: Pick<VerifyEvidenceOptions, 'nonce' | 'policy' | 'previousQuote'>;
  /** When certificates must be valid; default now. */
  now?: Date;
}

export type VmEvidenceFinding = Finding<VmFindingId>;

export interface VmEvidenceSummary {
  vmId?: string;
  tenantId?: string;
  /** The signed values, when the statement parsed (else the bundle's). */
  bootId?: string;
  hostId?: string;
  bootedAt?: string;
  eventsRead: number;
  /** Where the reference values came from, and the vPCRs they pin. */
  referenceValues: 'reviewer' | 'bundle' | 'none';
  pinnedVpcrs: number[];
  akFingerprint?: string;
  akIssuer?: string;
  certificatePath: boolean;
  signatureValid: boolean;
  host?: { ok: boolean; errors: number; summary: EvidenceSummary };
}

export interface VmEvidenceResult {
  /** No finding of severity error (the host's included). */
  ok: boolean;
  findings: VmEvidenceFinding[];
  summary: VmEvidenceSummary;
}

type F = Findings<VmFindingId>;

const TOP_LEVEL = ['format', 'version', 'createdAt', 'vmId', 'tenantId', 'name', 'boot', 'referenceValues', 'expectedVpcrs', 'host', 'serviceMeasurements', 'bootStatement'];
const POLICY_RESULTS: readonly PolicyResult[] = ['match', 'mismatch', 'no-policy'];

/** Verify a VM evidence bundle (an object, or its JSON text) offline; bad input never throws. */
export async function verifyVmEvidence(bundle: unknown, opts: VerifyVmEvidenceOptions): Promise<VmEvidenceResult> {
  const f: F = new Findings<VmFindingId>(VM_FINDINGS);
  const summary: VmEvidenceSummary = { eventsRead: 0, referenceValues: 'none', pinnedVpcrs: [], certificatePath: false, signatureValid: false };
  const now = opts.now ?? new Date();
  const b = parseBundle(bundle, f);
  if (!b) return { ok: f.ok, findings: f.findings, summary };
  if (typeof b.vmId === 'string') summary.vmId = b.vmId;
  if (typeof b.tenantId === 'string') summary.tenantId = b.tenantId;
  const boot = isObject(b.boot) ? b.boot : {};
  const signed = isObject(b.bootStatement) ? b.bootStatement : {};

  // The signer and the statement.
  const signer = checkAkSigner(signed.akCertificatePem, opts.trustedRoots, now, f);
  summary.certificatePath = signer.trusted;
  if (signer.akFingerprint) summary.akFingerprint = signer.akFingerprint;
  if (signer.issuer) summary.akIssuer = signer.issuer;
  const statement = decodeBase64(signed.statement);
  if (!statement) f.add('bundle-malformed', 'bootStatement.statement: must be base64 of the signed statement');
  const signature = decodeBase64(signed.signature);
  if (!signature) f.add('bundle-malformed', 'bootStatement.signature: must be base64 of a DER ECDSA signature');
  let s: VmBootStatement | null = null;
  if (statement) {
    summary.signatureValid = checkStatementSignature(statement, signature, signer.key, f);
    s = decodeVmBootStatement(statement, f);
  }
  const bundleVpcrs = vpcrsOf(boot.vpcrs, 'boot.vpcrs', f, true);
  if (s) compareStatement(b, boot, bundleVpcrs, s, f);
  const vpcrs = s ? new Map(s.vpcrs.map((v, i) => [i, v] as const)) : bundleVpcrs;
  summary.bootId = s?.bootId ?? (typeof boot.bootId === 'string' ? boot.bootId : undefined);
  summary.hostId = s?.hostId ?? (typeof boot.hostId === 'string' ? boot.hostId : undefined);
  const bootedAt = s ? isoOf(s.bootedAtMs) : typeof boot.bootedAt === 'string' ? boot.bootedAt : undefined;
  if (bootedAt !== undefined) summary.bootedAt = bootedAt;
  if (summary.bootId === undefined) delete summary.bootId;
  if (summary.hostId === undefined) delete summary.hostId;

  summary.eventsRead = checkBootLog(boot.eventLog, vpcrs, f);
  checkReferenceValues(b, boot, vpcrs, opts, f, summary);
  await checkHost(b.host, summary.hostId, opts, now, f, summary);
  return { ok: f.ok, findings: f.findings, summary };
}


function parseBundle(input: unknown, f: F): Record<string, unknown> | null {
  const value = jsonObjectOf(input, 'bundle', (detail) => f.add('bundle-malformed', detail));
  if (!value) return null;
  const b = value;
  if (b.format !== VM_EVIDENCE_FORMAT) f.add('bundle-malformed', `format: must be "${VM_EVIDENCE_FORMAT}"`, { expected: VM_EVIDENCE_FORMAT, found: JSON.stringify(b.format) ?? 'nothing' });
  if (b.version !== VM_EVIDENCE_VERSION) {
    f.add('bundle-version-unsupported', `this verifier reads version ${VM_EVIDENCE_VERSION}`, { expected: String(VM_EVIDENCE_VERSION), found: JSON.stringify(b.version) ?? 'nothing' });
    return null;
  }
  for (const key of Object.keys(b)) if (!TOP_LEVEL.includes(key)) f.add('bundle-field-unknown', `${key}: not a version ${VM_EVIDENCE_VERSION} field; ignored`);
  const bad = (field: string, want: string) => f.add('bundle-malformed', `${field}: must be ${want}`);
  for (const field of ['vmId', 'tenantId'] as const) if (typeof b[field] !== 'string') bad(field, 'a UUID');
  if (!isObject(b.boot)) bad('boot', 'an object { bootId, bootedAt, hostId, eventLog, vpcrs, policyResult }');
  else {
    for (const field of ['bootId', 'bootedAt', 'hostId'] as const) if (typeof b.boot[field] !== 'string') bad(`boot.${field}`, 'a string');
    if (!Array.isArray(b.boot.eventLog)) bad('boot.eventLog', 'a CEL JSON log (an array of records)');
    if (!POLICY_RESULTS.includes(b.boot.policyResult as PolicyResult)) bad('boot.policyResult', POLICY_RESULTS.join(', '));
  }
  if (!isObject(b.bootStatement)) bad('bootStatement', 'an object { statement, signature, akCertificatePem }');
  if (b.referenceValues !== null && b.referenceValues !== undefined && !isObject(b.referenceValues)) bad('referenceValues', 'an object or null');
  if (b.host !== null && b.host !== undefined && !isObject(b.host)) bad('host', 'an object { hostId, nonce, attestedAt, bundle } or null');
  return b;
}

/** `{ sha256: { "0": hex, … } }` as a map; shape errors are findings. */
function vpcrsOf(v: unknown, field: string, f: F, all: boolean): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  const bank = isObject(v) ? v.sha256 : undefined;
  if (!isObject(bank)) {
    f.add('bundle-malformed', `${field}: must be { sha256: { PCR index: hex } }`);
    return out;
  }
  for (const [index, hex] of Object.entries(bank)) {
    if (!/^(?:[0-9]|1[0-5])$/.test(index)) f.add('bundle-malformed', `${field}.sha256.${index}: a VM's PCR index is 0–15`);
    else if (!isHex(hex) || hex.length !== 64) f.add('bundle-malformed', `${field}.sha256.${index}: must be 32 bytes of hex`);
    else out.set(Number(index), Buffer.from(hex, 'hex'));
  }
  if (all && out.size !== VM_STATEMENT_VPCRS && out.size === Object.keys(bank).length) f.add('bundle-malformed', `${field}: must give all ${VM_STATEMENT_VPCRS} vPCRs (0–15)`, { expected: String(VM_STATEMENT_VPCRS), found: String(out.size) });
  return out;
}

/** Each signed field against the bundle's: one finding per field (per vPCR) that differs. */
function compareStatement(b: Record<string, unknown>, boot: Record<string, unknown>, vpcrs: Map<number, Buffer>, s: VmBootStatement, f: F): void {
  const text = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : JSON.stringify(v) ?? 'nothing');
  const mismatch = (field: string, signed: string, given: string) => f.add('statement-field-mismatch', `${field}: the bundle's value is not the one the signed statement holds`, { expected: signed, found: given });
  if (text(b.vmId) !== s.vmId) mismatch('vmId', s.vmId, text(b.vmId));
  if (text(boot.bootId) !== s.bootId) mismatch('boot.bootId', s.bootId, text(boot.bootId));
  if (text(boot.hostId) !== s.hostId) mismatch('boot.hostId', s.hostId, text(boot.hostId));
  const at = typeof boot.bootedAt === 'string' ? Date.parse(boot.bootedAt) : NaN;
  if (Number.isNaN(at) || BigInt(at) !== s.bootedAtMs) mismatch('boot.bootedAt', isoOf(s.bootedAtMs), text(boot.bootedAt));
  if (Array.isArray(boot.eventLog)) {
    let digest: string;
    try {
      digest = eventLogDigest(boot.eventLog).toString('hex');
    } catch (e) {
      digest = `(no canonical form: ${(e as Error).message})`;
    }
    if (digest !== s.eventLogDigest.toString('hex')) mismatch('boot.eventLog (SHA-256 of its canonical JSON)', s.eventLogDigest.toString('hex'), digest);
  }
  s.vpcrs.forEach((v, i) => {
    const given = vpcrs.get(i);
    if (!given?.equals(v)) mismatch(`boot.vpcrs.sha256.${i}`, v.toString('hex'), given?.toString('hex') ?? 'absent');
  });
}

/** Read the log as the evidence verifier does, check the vPCR layout, replay it to the signed vPCRs. */
function checkBootLog(raw: unknown, vpcrs: Map<number, Buffer>, f: F): number {
  if (!Array.isArray(raw)) return 0;
  const scratch = new FindingCollector();
  const log = readLog('static', raw, scratch);
  f.absorb(scratch.findings);
  try {
    checkVmBootLog(raw);
  } catch (e) {
    const why = e instanceof VmBootLogError || e instanceof CelError ? e.message : `it could not be checked: ${(e as Error).message}`;
    f.add('event-log-layout-invalid', `the boot log is not in Sealkeep's VM vPCR layout: ${why}`);
  }
  if (!log.complete) return log.records.length;
  let replayed: Map<number, Buffer>;
  try {
    replayed = replay(log.cel, 'sha256');
  } catch (e) {
    f.add('event-log-malformed', `the boot log does not replay in sha256: ${(e as Error).message}`);
    return log.records.length;
  }
  for (let pcr = 0; pcr < VM_STATEMENT_VPCRS; pcr++) {
    const value = vpcrs.get(pcr);
    if (!value) continue;
    const expected = replayed.get(pcr) ?? Buffer.alloc(32);
    if (!expected.equals(value)) {
      f.add('event-log-pcr-mismatch', `vPCR ${pcr}: the boot log does not replay to the signed value`, { expected: value.toString('hex'), found: expected.toString('hex') });
    }
  }
  return log.records.length;
}

const hexMap = (m: Map<number, Buffer>) => Object.fromEntries([...m].map(([i, v]) => [String(i), v.toString('hex')]));

/** The reference values against the signed vPCRs; the bundle's derived claims against its reference values. */
function checkReferenceValues(b: Record<string, unknown>, boot: Record<string, unknown>, vpcrs: Map<number, Buffer>, opts: VerifyVmEvidenceOptions, f: F, summary: VmEvidenceSummary): void {
  const fromReviewer = opts.referenceValues !== undefined;
  const bundleRefs = b.referenceValues ?? null;
  const refs = fromReviewer ? opts.referenceValues : bundleRefs;
  const implied = (r: unknown, whose: string): Map<number, Buffer> | null => {
    try {
      return expectedVpcrs(r as VpcrReferences);
    } catch (e) {
      f.add('reference-values-malformed', `${whose}: ${(e as Error).message}`);
      return null;
    }
  };
  let expected: Map<number, Buffer> | null = null;
  if (refs === null || refs === undefined) {
    f.add('reference-values-absent', 'the VM has no release policy (and none was given): its vPCRs are checked against its boot log only');
  } else {
    summary.referenceValues = fromReviewer ? 'reviewer' : 'bundle';
    if (!fromReviewer) f.add('reference-values-from-bundle', "the reference values came with the bundle, from the service: pass the tenant's own (referenceValues, --reference-values) to rely on them");
    expected = implied(refs, fromReviewer ? 'the reference values given' : 'referenceValues');
    for (const [pcr, value] of expected ?? []) {
      summary.pinnedVpcrs.push(pcr);
      const got = vpcrs.get(pcr);
      if (!got?.equals(value)) f.add('vpcr-mismatch', `vPCR ${pcr} is not the value the reference values expect`, { expected: value.toString('hex'), found: got?.toString('hex') ?? 'absent' });
    }
  }

  // What the bundle derives from its own reference values: the expected vPCRs, the policy result.
  const ownImplied = bundleRefs === null ? null : fromReviewer ? implied(bundleRefs, "the bundle's referenceValues") : expected;
  const given = b.expectedVpcrs === null || b.expectedVpcrs === undefined ? null : vpcrsOf(b.expectedVpcrs, 'expectedVpcrs', f, false);
  if (bundleRefs !== null && ownImplied) {
    const want = hexMap(ownImplied);
    const have = given ? hexMap(given) : {};
    for (const pcr of new Set([...Object.keys(want), ...Object.keys(have)])) {
      if (want[pcr] !== have[pcr]) f.add('expected-vpcrs-mismatch', `expectedVpcrs: vPCR ${pcr} is not what the bundle's reference values imply`, { expected: want[pcr] ?? 'absent', found: have[pcr] ?? 'absent' });
    }
  } else if (bundleRefs === null && given && given.size > 0) {
    f.add('expected-vpcrs-mismatch', 'expectedVpcrs: given without reference values to imply them', { expected: 'null', found: JSON.stringify(hexMap(given)) });
  }
  const result: PolicyResult | null = bundleRefs === null ? 'no-policy' : ownImplied ? ([...ownImplied].every(([i, v]) => vpcrs.get(i)?.equals(v)) ? 'match' : 'mismatch') : null;
  if (result && POLICY_RESULTS.includes(boot.policyResult as PolicyResult) && boot.policyResult !== result) {
    f.add('policy-result-differs', "the policy result the service recorded at boot is not what the bundle's reference values give now (the release policy may have changed since)", { expected: result, found: String(boot.policyResult) });
  }
}

/** The host's evidence: for the host the statement names, and verified as the evidence verifier does. */
async function checkHost(host: unknown, hostId: string | undefined, opts: VerifyVmEvidenceOptions, now: Date, f: F, summary: VmEvidenceSummary): Promise<void> {
  if (host === null || host === undefined) {
    f.add('host-evidence-missing', 'the bundle carries no attestation of the host the VM booted on: nothing shows that the host ran an approved launch');
    return;
  }
  if (!isObject(host)) return; // reported by the parser
  if (host.hostId !== hostId) f.add('host-evidence-mismatch', "the host evidence is another host's than the one the boot statement names", { expected: hostId ?? 'unknown', found: String(host.hostId) });
  const subject = isObject(host.bundle) && isObject(host.bundle.subject) ? host.bundle.subject : null;
  if (subject && subject.kind !== 'host') f.add('host-evidence-mismatch', "the host evidence's bundle is not a host's", { expected: 'host', found: String(subject.kind) });
  const nonce = opts.host?.nonce ?? (isHex(host.nonce) ? host.nonce : undefined);
  if (opts.host?.nonce === undefined && host.nonce !== undefined && !isHex(host.nonce)) f.add('bundle-malformed', 'host.nonce: must be hex');
  const r = await verifyEvidence(host.bundle, {
    trustedRoots: opts.trustedRoots,
    at: now,
    ...(nonce !== undefined && { nonce }),
    ...(opts.host?.policy !== undefined && { policy: opts.host.policy }),
    ...(opts.host?.previousQuote !== undefined && { previousQuote: opts.host.previousQuote }),
  });
  f.absorb(r.findings, 'host:');
  summary.host = { ok: r.ok, errors: r.findings.filter((x) => x.severity === 'error').length, summary: r.summary };
}
