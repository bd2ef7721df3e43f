// verifyEvidence(): the one entry point of the offline evidence verifier. It runs every check on
// a bundle — shape, quote, signature, PCR digest, clock, event logs, certificate paths, TCG
// profiles, reference values — collecting findings, and never throws on bad input. The result
// is ok when no finding is an error. Nothing here trusts the bundle's producer: trust comes only
// from the reviewer's roots, nonce, previous quote and policy.

import { createHash } from 'node:crypto';
import type { TpmIdentity, wire } from '@sealkeep/tpm';
import { parseAttest, checkClock, checkPcrDigest, checkQuoteIdentity, type QuotedPcrs } from './quote.js';
import { checkSignature, loadAkKey, type AkKey } from './ak-key.js';
import { decodeBase64, decodeCertificates, isObject, parseBundle, type ParsedBundle } from './bundle.js';
import { parseCertificate, validatePath, type ParsedCert } from './certificates.js';
import { checkEventLogs, type ReadLog } from './event-log.js';
import { FindingCollector, type Finding, type FindingId } from './findings.js';
import { evaluatePolicy, parsePolicy } from './policy.js';
import { checkAkCertificate, checkEkProfile, firmwareVersionId } from './tcg-profile.js';

export interface VerifyEvidenceOptions {
  /** The reviewer's trusted roots: PEM text (one or more certificates) or DER. */
  trustedRoots: ReadonlyArray<string | Uint8Array>;
  /** The nonce the quote must carry in extraData (bytes, or hex). */
  nonce?: Uint8Array | string;
  /** An earlier quote of the same AK (its attest bytes, base64, or a bundle/quote object holding them). */
  previousQuote?: Uint8Array | string | { attest: string } | { quote: { attest: string } };
  /** Reference values (policy.ts); absent: the bundle's referenceValues, with a warning. */
  policy?: unknown;
  /** The time certificates must be valid at; default now. */
  at?: Date;
}

export interface EvidenceSummary {
  subject?: ParsedBundle['subject'];
  quote?: { clock: string; resetCount: number; restartCount: number; safe: boolean; firmwareVersion: string; pcrs: Record<string, number[]> };
  /** SHA-256 of the AK's SubjectPublicKeyInfo, hex. */
  akFingerprint?: string;
  eventsRead: number;
  certificatePaths: number;
}

export interface EvidenceResult {
  /** No finding of severity error. */
  ok: boolean;
  findings: Finding[];
  summary: EvidenceSummary;
}

/**
 * Verify an evidence bundle (an object, or its JSON text) offline. Every check runs and adds its
 * findings; bad input in the bundle never throws (a nonce that is not hex, the caller's own
 * option, does). Asynchronous so that checks that must wait (revocation lists) can join later.
 */
export async function verifyEvidence(bundle: unknown, opts: VerifyEvidenceOptions): Promise<EvidenceResult> {
  const f = new FindingCollector();
  const summary: EvidenceSummary = { eventsRead: 0, certificatePaths: 0 };
  const nonce = nonceOf(opts.nonce); // a bad option is the caller's error: it throws, before anything runs
  const b = parseBundle(bundle, f);
  if (b) {
    summary.subject = b.subject;
    const quote = guarded(f, 'quote-malformed', 'the quote', () => checkQuote(b, opts, nonce, f, summary));
    const quoted = quote?.quoted ?? new Map();
    const logs = guarded(f, 'event-log-malformed', 'the event logs', () => checkEventLogs(b.eventLogs, quoted, f)) ?? [];
    summary.eventsRead = logs.reduce((n, l) => n + l.records.length, 0);
    guarded(f, 'certificate-malformed', 'the certificates', () => checkCertificates(b, quote, opts, f, summary));
    guarded(f, 'policy-malformed', 'the reference values', () => checkPolicy(b, opts, quoted, logs, f));
  }
  return { ok: f.ok, findings: f.findings, summary };
}

/** Run one phase; an exception no check foresaw becomes a finding, so bad input never throws out. */
function guarded<T>(f: FindingCollector, id: FindingId, what: string, phase: () => T): T | null {
  try {
    return phase();
  } catch (e) {
    f.add(id, `${what} could not be checked: ${(e as Error).message}`);
    return null;
  }
}

interface QuotePhase {
  attest: wire.TPMS_ATTEST | null;
  ak: AkKey | null;
  quoted: QuotedPcrs;
}

/** The AK, the signature, the TPMS_ATTEST and its PCR digest, the clock. */
function checkQuote(b: ParsedBundle, opts: VerifyEvidenceOptions, nonce: Buffer | undefined, f: FindingCollector, summary: EvidenceSummary): QuotePhase {
  const ak = loadAkKey(b.ak.public, f);
  if (ak) summary.akFingerprint = createHash('sha256').update(ak.key.export({ type: 'spki', format: 'der' })).digest('hex');
  let hashAlg: number | undefined;
  if (ak) {
    const sig = checkSignature(b.quote.signature, b.quote.attest, ak.key);
    if (!sig.ok) f.add(sig.id, sig.reason);
    hashAlg = sig.hashAlg;
  }
  const q = parseAttest(b.quote.attest, f);
  if (!q) return { attest: null, ak, quoted: new Map() };
  checkQuoteIdentity(q, ak, b.ak.parent, nonce, f);
  const quoted = q.quoted ? checkPcrDigest(q.quoted, b.pcrs, hashAlg ?? NaN, f) : new Map();
  checkClock(q.attest, previousAttest(opts.previousQuote, f), f);
  const c = q.attest.clockInfo;
  summary.quote = {
    clock: c.clock.toString(),
    resetCount: c.resetCount,
    restartCount: c.restartCount,
    safe: c.safe === 1,
    firmwareVersion: `0x${q.attest.firmwareVersion.toString(16)}`,
    pcrs: Object.fromEntries([...quoted].map(([bank, m]) => [bank, [...m.keys()]])),
  };
  return { attest: q.attest, ak, quoted };
}

/** The AK and EK paths to the reviewer's roots, the TCG profiles, and the firmware version they name. */
function checkCertificates(b: ParsedBundle, quote: QuotePhase | null, opts: VerifyEvidenceOptions, f: FindingCollector, summary: EvidenceSummary): void {
  const roots = opts.trustedRoots.flatMap((r, i) => {
    const ders = typeof r === 'string' ? decodeCertificates(r) : [Buffer.from(r)];
    if (!ders) f.add('trusted-root-malformed', `trusted root ${i + 1}: neither PEM certificates nor DER`);
    return (ders ?? []).map((der, j) => parseCertificate(`trusted root ${i + 1}${j ? `.${j + 1}` : ''}`, der, f, 'trusted-root-malformed')).filter((c): c is ParsedCert => c !== null);
  });
  const at = opts.at ?? new Date();
  const chainOf = (who: 'ak' | 'ek', ders: Buffer[]) => ders.map((der, i) => parseCertificate(`${who} chain[${i}]`, der, f)).filter((c): c is ParsedCert => c !== null);
  let ekTpm: TpmIdentity | null = null;
  if (!b.ek.certificate) f.add('ek-certificate-missing', 'the bundle has no EK certificate: nothing names the TPM the AK lives in');
  const ekCert = b.ek.certificate ? parseCertificate('ek certificate', b.ek.certificate, f) : null;
  if (ekCert) {
    if (validatePath(ekCert, chainOf('ek', b.ek.chain), roots, at, f)) summary.certificatePaths++;
    ekTpm = checkEkProfile(ekCert, f);
  }
  if (!b.ak.certificate) f.add('ak-certificate-missing', 'the bundle has no AK certificate: nothing vouches that the AK is a key of a genuine TPM');
  const akCert = b.ak.certificate ? parseCertificate('ak certificate', b.ak.certificate, f) : null;
  if (akCert) {
    if (validatePath(akCert, chainOf('ak', b.ak.chain), roots, at, f)) summary.certificatePaths++;
    checkAkCertificate(akCert, quote?.ak?.key ?? null, { cert: ekCert, tpm: ekTpm }, f);
  }
  const attest = quote?.attest;
  if (attest && ekTpm && firmwareVersionId(attest.firmwareVersion).toLowerCase() !== ekTpm.version.toLowerCase()) {
    f.add('quote-firmware-version-mismatch', "the quote's firmwareVersion is not the TPM version the EK certificate names (or the AK's hierarchy obfuscates it)", {
      expected: ekTpm.version,
      found: firmwareVersionId(attest.firmwareVersion),
    });
  }
}

/** The reviewer's reference values, else the bundle's (with a warning). */
function checkPolicy(b: ParsedBundle, opts: VerifyEvidenceOptions, quoted: QuotedPcrs, logs: ReadLog[], f: FindingCollector): void {
  const policy = opts.policy ?? b.referenceValues;
  if (policy === undefined) {
    f.add('policy-not-given', 'no reference values: the PCR values are checked against the event logs only');
    return;
  }
  if (opts.policy === undefined) f.add('policy-from-bundle', 'the reference values came with the bundle, from its producer: pass your own (policy) to rely on them');
  const parsed = parsePolicy(policy, f);
  if (parsed) evaluatePolicy(parsed, quoted, logs, f);
}

function nonceOf(n: VerifyEvidenceOptions['nonce']): Buffer | undefined {
  if (n === undefined) return undefined;
  if (typeof n !== 'string') return Buffer.from(n);
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(n)) throw new TypeError('nonce: hex digits expected');
  return Buffer.from(n, 'hex');
}

/** The previous quote's TPMS_ATTEST, or null (with a warning when one was given but is unusable). */
function previousAttest(p: VerifyEvidenceOptions['previousQuote'], f: FindingCollector) {
  if (p === undefined) return null;
  let bytes: Buffer | null = null;
  if (typeof p === 'string') bytes = decodeBase64(p);
  else if (p instanceof Uint8Array) bytes = Buffer.from(p);
  else if (isObject(p)) bytes = decodeBase64('quote' in p && isObject(p.quote) ? p.quote.attest : (p as { attest?: unknown }).attest);
  const scratch = new FindingCollector();
  const parsed = bytes ? parseAttest(bytes, scratch, 'previous quote') : null;
  if (!parsed || !scratch.ok) {
    f.add('previous-quote-unusable', `the previous quote does not parse${scratch.findings[0] ? ` (${scratch.findings[0].message})` : ''}: clock checks skipped`);
    return null;
  }
  return parsed.attest;
}
