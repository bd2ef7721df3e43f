// The quote: TPMS_ATTEST (Part 2 §10.12.12) read with the project's own codec, and every check
// that needs only the quote, the AK and the PCR values of the bundle — magic, type, nonce
// (extraData), qualifiedSigner, the TPMS_QUOTE_INFO PCR digest over the bundle's values in
// selection order, clockInfo.safe — and the clock against an earlier quote of the same AK.

import { createHash } from 'node:crypto';
import { unmarshal, wire, TPM_ALG, TPM_GENERATED_VALUE, TPM_ST, type CelHashAlg } from '@sealkeep/tpm';
import type { ParsedBundle } from './bundle.js';
import { HASH_NAME, primaryHierarchyOf, qualifiedNameOf, type AkKey } from './ak-key.js';
import type { FindingCollector } from './findings.js';

export interface QuoteInfo {
  attest: wire.TPMS_ATTEST;
  /** TPMS_QUOTE_INFO, when the attestation is a quote. */
  quoted?: wire.TPMS_QUOTE_INFO;
}

/** The PCR values the quote covers, by bank and index (from the bundle, checked against pcrDigest). */
export type QuotedPcrs = Map<CelHashAlg, Map<number, Buffer>>;

export const BANK_OF_ALG: ReadonlyMap<number, CelHashAlg> = new Map([
  [TPM_ALG.SHA1, 'sha1'],
  [TPM_ALG.SHA256, 'sha256'],
  [TPM_ALG.SHA384, 'sha384'],
]);

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * Unmarshal the attest bytes. A wrong magic is reported and read past (the rest may still tell
 * more); a type other than TPM_ST_ATTEST_QUOTE is reported, and the quote checks are skipped.
 */
export function parseAttest(bytes: Buffer, f: FindingCollector, label = 'quote.attest'): QuoteInfo | null {
  if (bytes.length < 6) {
    f.add('quote-malformed', `${label}: ${bytes.length} bytes is too short for a TPMS_ATTEST`);
    return null;
  }
  let input = bytes;
  const magic = bytes.readUInt32BE(0);
  if (magic !== TPM_GENERATED_VALUE) {
    f.add('quote-magic-invalid', `${label}: magic is not TPM_GENERATED_VALUE: the TPM did not produce this structure`, {
      expected: `0x${TPM_GENERATED_VALUE.toString(16)}`,
      found: `0x${magic.toString(16).padStart(8, '0')}`,
    });
    input = Buffer.from(bytes);
    input.writeUInt32BE(TPM_GENERATED_VALUE, 0);
  }
  const type = bytes.readUInt16BE(4);
  if (type !== TPM_ST.ATTEST_QUOTE) {
    f.add('quote-type-invalid', `${label}: the attestation is not a quote`, { expected: `TPM_ST_ATTEST_QUOTE (0x${TPM_ST.ATTEST_QUOTE.toString(16)})`, found: `0x${type.toString(16)}` });
  }
  let attest: wire.TPMS_ATTEST;
  try {
    attest = unmarshal(wire.TPMS_ATTEST, input);
  } catch (e) {
    f.add('quote-malformed', `${label}: not a TPMS_ATTEST: ${(e as Error).message}`);
    return null;
  }
  return type === TPM_ST.ATTEST_QUOTE ? { attest, quoted: attest.attested as wire.TPMS_QUOTE_INFO } : { attest };
}

/** Nonce and qualifiedSigner. */
export function checkQuoteIdentity(q: QuoteInfo, ak: AkKey | null, parent: ParsedBundle['ak']['parent'], nonce: Buffer | undefined, f: FindingCollector): void {
  const extraData = Buffer.from(q.attest.extraData);
  if (nonce === undefined) {
    f.add('quote-nonce-not-checked', 'no nonce was given: nothing shows the quote is fresh rather than replayed', { found: hex(extraData) });
  } else if (!extraData.equals(nonce)) {
    f.add('quote-nonce-mismatch', 'extraData is not the expected nonce: the quote answers another challenge (or is replayed)', { expected: hex(nonce), found: hex(extraData) });
  }
  const qn = Buffer.from(q.attest.qualifiedSigner);
  if (!ak) return; // ak-public-malformed already says why
  if (!ak.name) {
    f.add('quote-qualified-signer-not-checked', 'the AK came as a PEM key, which has no TPM Name: qualifiedSigner is not checked', { found: hex(qn) });
    return;
  }
  if (parent !== undefined) {
    const expected = qualifiedNameOf(ak.name, parent);
    if (!expected.equals(qn)) {
      const under = Buffer.isBuffer(parent) ? `the parent with QN ${hex(parent)}` : `the ${parent} hierarchy`;
      f.add('quote-qualified-signer-mismatch', `qualifiedSigner is not the Qualified Name of the AK under ${under}`, { expected: hex(expected), found: hex(qn) });
    }
  } else if (!primaryHierarchyOf(ak.name, qn)) {
    f.add('quote-qualified-signer-not-checked', 'the AK is not a primary key of any hierarchy and ak.parent is not given: qualifiedSigner is not checked', { found: hex(qn) });
  }
}

/**
 * The PCR digest: H(values in selection order) with the signature's hash, over the bundle's
 * values. Returns the quoted values (what the quote covers and the bundle supplies).
 */
export function checkPcrDigest(info: wire.TPMS_QUOTE_INFO, pcrs: ParsedBundle['pcrs'], hashAlg: number, f: FindingCollector): QuotedPcrs {
  const quoted: QuotedPcrs = new Map();
  const values: Buffer[] = [];
  let complete = true;
  for (const sel of info.pcrSelect) {
    const bank = BANK_OF_ALG.get(sel.hash);
    const indices = wire.pcrIndices(sel.pcrSelect);
    if (!bank) {
      f.add('quote-pcr-value-missing', `the quote selects bank 0x${sel.hash.toString(16)}, which bundles cannot carry`);
      complete = false;
      continue;
    }
    const bundleBank = pcrs.get(bank);
    const q = quoted.get(bank) ?? new Map<number, Buffer>();
    quoted.set(bank, q);
    for (const pcr of indices) {
      const v = bundleBank?.get(pcr);
      if (!v) {
        f.add('quote-pcr-value-missing', `the quote covers ${bank} PCR ${pcr}, the bundle gives no value for it`);
        complete = false;
        continue;
      }
      q.set(pcr, v);
      values.push(v);
    }
  }
  const hash = HASH_NAME.get(hashAlg);
  const pcrDigest = Buffer.from(info.pcrDigest);
  if (complete && hash) {
    const digest = values.reduce((h, v) => h.update(v), createHash(hash)).digest();
    if (!digest.equals(pcrDigest)) {
      f.add('quote-pcr-digest-mismatch', `the ${hash} digest of the bundle's PCR values, in the quote's selection order, is not the quoted pcrDigest: the values are not the ones quoted`, {
        expected: hex(pcrDigest),
        found: hex(digest),
      });
    }
  }
  for (const [bank, map] of pcrs) {
    const extra = [...map.keys()].filter((pcr) => !quoted.get(bank)?.has(pcr));
    if (extra.length > 0) f.add('pcr-value-not-quoted', `${bank} PCR ${extra.join(', ')}: given in the bundle but not covered by the quote; not used`);
  }
  return quoted;
}

/** clockInfo.safe, and the clock against an earlier quote by the same AK. */
export function checkClock(q: wire.TPMS_ATTEST, previous: wire.TPMS_ATTEST | null, f: FindingCollector): void {
  const c = q.clockInfo;
  if (!c.safe) f.add('quote-clock-unsafe', 'clockInfo.safe is NO: the TPM may have lost clock time (a power loss without orderly shutdown)');
  if (!previous) return;
  if (!Buffer.from(previous.qualifiedSigner).equals(Buffer.from(q.qualifiedSigner))) {
    f.add('previous-quote-unusable', 'the previous quote was signed by another key: its clock is not comparable, clock checks skipped');
    return;
  }
  const p = previous.clockInfo;
  const show = (x: wire.TPMS_CLOCK_INFO) => `clock ${x.clock}, resetCount ${x.resetCount}, restartCount ${x.restartCount}`;
  const detail = { expected: `at least ${show(p)}`, found: show(c) };
  if (c.resetCount < p.resetCount) {
    f.add('quote-reset-count-regressed', 'resetCount is lower than in the previous quote: the TPM state was rolled back or this quote is older', detail);
  } else if (c.resetCount === p.resetCount && c.restartCount < p.restartCount) {
    f.add('quote-restart-count-regressed', 'restartCount is lower than in the previous quote with the same resetCount', detail);
  } else if (c.resetCount === p.resetCount && c.restartCount === p.restartCount && c.clock < p.clock) {
    f.add('quote-clock-regressed', 'the clock went backwards since the previous quote with the same resetCount and restartCount', detail);
  } else if (c.clock < p.clock && c.safe) {
    f.add('quote-clock-regressed-across-reset', 'the clock is behind the previous quote (across a TPM reset or restart) although the TPM reports it safe', detail);
  }
  if (q.firmwareVersion !== previous.firmwareVersion) {
    f.add('quote-firmware-changed', 'the TPM firmware version changed since the previous quote', {
      expected: `0x${previous.firmwareVersion.toString(16)}`,
      found: `0x${q.firmwareVersion.toString(16)}`,
    });
  }
}
