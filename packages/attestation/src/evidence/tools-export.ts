// A bundle's quote and certificates as the files other people's tools take, so a reviewer can
// check the same evidence with them: tpm2_checkquote (tpm2-tools) and `openssl verify`.
//   tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig -f pcrs.values -l sha256:0,1+sha1:0,1 -g sha256 -q NONCE
//     ak.pem      the AK's public key, PEM SubjectPublicKeyInfo
//     quote.msg   the TPMS_ATTEST bytes, as `tpm2_quote -m` writes them
//     quote.sig   the TPMT_SIGNATURE bytes, as `tpm2_quote -s` writes them (its default "tss" format)
//     pcrs.values the quoted PCR values, raw, in selection order, as `tpm2_quote -F values -o` writes them
//     pcrs.tss    the same with their selection, as `tpm2_quote -o` writes them by default (tss2's C
//                 structures, little-endian): tpm2_checkquote 5.x mishandles `-f values -l` beyond 7 PCRs
//                 (tpm2-tools issue #3542), so `args` names this file, without -l, for 8 PCRs and more
//   openssl verify -CAfile root.pem -untrusted <who>-chain.pem <who>.pem      (who: ak, ek)
// Unlike the verifier, the exporter throws (ExportError) on a bundle it cannot export.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { asn1, wire } from '@sealkeep/tpm';
import { HASH_NAME, loadAkKey, checkSignature } from './ak-key.js';
import { parseBundle } from './bundle.js';
import { FindingCollector } from './findings.js';
import { BANK_OF_ALG, parseAttest } from './quote.js';

export class ExportError extends Error {
  override name = 'ExportError';
}

export interface CheckquoteExport {
  /** File name → contents. */
  files: Record<'ak.pem' | 'quote.msg' | 'quote.sig' | 'pcrs.values' | 'pcrs.tss', Buffer>;
  /** tpm2_checkquote's -l: "sha256:0,1,2+sha1:0,1,2". */
  pcrList: string;
  /** tpm2_checkquote's -g: the hash of the signature (and of the PCR digest). */
  hashAlg: string;
  /** The nonce to pass as -q, hex: the one given, else the quote's own extraData. */
  nonce: string;
  /** The arguments, relative to the directory the files are written to. */
  args: string[];
}

/** The tpm2_checkquote files of a bundle's quote. */
export function exportCheckquote(bundle: unknown, opts: { nonce?: Buffer } = {}): CheckquoteExport {
  const f = new FindingCollector();
  const b = parseBundle(bundle, f);
  if (!b) throw new ExportError(`the bundle cannot be exported: ${f.findings.map((x) => x.message).join('; ')}`);
  const ak = loadAkKey(b.ak.public, f);
  const q = parseAttest(b.quote.attest, f);
  if (!ak || !q?.quoted) throw new ExportError(`the bundle has no usable AK or quote: ${f.findings.map((x) => x.message).join('; ')}`);
  const sig = checkSignature(b.quote.signature, b.quote.attest, ak.key);
  const hashAlg = sig.hashAlg === undefined ? undefined : HASH_NAME.get(sig.hashAlg);
  if (!hashAlg) throw new ExportError(`quote.signature: ${sig.ok ? 'no hash' : sig.reason}`);
  const values: Buffer[] = [];
  const banks: string[] = [];
  for (const sel of q.quoted.pcrSelect) {
    const bank = BANK_OF_ALG.get(sel.hash);
    const pcrs = wire.pcrIndices(sel.pcrSelect);
    if (!bank) throw new ExportError(`the quote selects bank 0x${sel.hash.toString(16)}`);
    for (const pcr of pcrs) {
      const v = b.pcrs.get(bank)?.get(pcr);
      if (!v) throw new ExportError(`the bundle gives no value for ${bank} PCR ${pcr}, which the quote covers`);
      values.push(v);
    }
    if (pcrs.length > 0) banks.push(`${bank}:${pcrs.join(',')}`);
  }
  const nonce = (opts.nonce ?? Buffer.from(q.attest.extraData)).toString('hex');
  const pcrList = banks.join('+');
  const pcrArgs = values.length <= 7 ? ['-f', 'pcrs.values', '-l', pcrList] : ['-f', 'pcrs.tss'];
  const args = ['-u', 'ak.pem', '-m', 'quote.msg', '-s', 'quote.sig', ...pcrArgs, '-g', hashAlg];
  if (nonce) args.push('-q', nonce);
  return {
    files: {
      'ak.pem': Buffer.from(ak.key.export({ type: 'spki', format: 'pem' }).toString()),
      'quote.msg': b.quote.attest,
      'quote.sig': b.quote.signature,
      'pcrs.values': Buffer.concat(values),
      'pcrs.tss': tssPcrFile(q.quoted.pcrSelect, values),
    },
    pcrList,
    hashAlg,
    nonce,
    args,
  };
}

// tss2's sizes (tss2_tpm2_types.h): TPM2_NUM_PCR_BANKS 16, TPM2_PCR_SELECT_MAX 4, TPML_DIGEST of 8
// TPM2B_DIGESTs, each a UINT16 and sizeof(TPMU_HA) = 64 octets; C alignment pads TPMS_PCR_SELECTION to 8.
const TSS = { banks: 16, selectionSize: 8, selectMax: 4, digestsPerList: 8, digestSize: 2 + 64 } as const;

/** tpm2-tools' serialized PCR file: TPML_PCR_SELECTION, UINT32 n, n × TPML_DIGEST, as C structures, little-endian. */
function tssPcrFile(selection: wire.TPML_PCR_SELECTION, values: Buffer[]): Buffer {
  if (selection.length > TSS.banks || selection.some((s) => s.pcrSelect.length > TSS.selectMax)) throw new ExportError('the PCR selection does not fit tss2 structures');
  const sel = Buffer.alloc(4 + TSS.banks * TSS.selectionSize);
  sel.writeUInt32LE(selection.length, 0);
  selection.forEach((s, i) => {
    const at = 4 + i * TSS.selectionSize;
    sel.writeUInt16LE(s.hash, at);
    sel[at + 2] = s.pcrSelect.length;
    Buffer.from(s.pcrSelect).copy(sel, at + 3);
  });
  const lists: Buffer[] = [];
  for (let i = 0; i < values.length; i += TSS.digestsPerList) {
    const list = Buffer.alloc(4 + TSS.digestsPerList * TSS.digestSize);
    const chunk = values.slice(i, i + TSS.digestsPerList);
    list.writeUInt32LE(chunk.length, 0);
    chunk.forEach((v, k) => {
      list.writeUInt16LE(v.length, 4 + k * TSS.digestSize);
      v.copy(list, 4 + k * TSS.digestSize + 2);
    });
    lists.push(list);
  }
  const count = Buffer.alloc(4);
  count.writeUInt32LE(lists.length, 0);
  return Buffer.concat([sel, count, ...lists]);
}

export interface ChainExport {
  /** The leaf certificate, PEM. */
  leaf: string;
  /** The CA certificates the bundle carries above it (openssl's -untrusted), PEM; empty when none. */
  untrusted: string;
}

/** The AK and EK certificate chains of a bundle, PEM, for `openssl verify`. */
export function exportChains(bundle: unknown): { ak?: ChainExport; ek?: ChainExport } {
  const f = new FindingCollector();
  const b = parseBundle(bundle, f);
  if (!b) throw new ExportError(`the bundle cannot be exported: ${f.findings.map((x) => x.message).join('; ')}`);
  const pem = (der: Buffer) => asn1.toPem('CERTIFICATE', der);
  const out: { ak?: ChainExport; ek?: ChainExport } = {};
  if (b.ak.certificate) out.ak = { leaf: pem(b.ak.certificate), untrusted: b.ak.chain.map(pem).join('') };
  if (b.ek.certificate) out.ek = { leaf: pem(b.ek.certificate), untrusted: b.ek.chain.map(pem).join('') };
  return out;
}

/** Write the tpm2_checkquote files and the chains (ak.pem… ak-cert.pem, ak-chain.pem, ek-cert.pem, ek-chain.pem) to `dir`. */
export async function writeToolFiles(dir: string, bundle: unknown, opts: { nonce?: Buffer } = {}): Promise<CheckquoteExport> {
  const exp = exportCheckquote(bundle, opts);
  const chains = exportChains(bundle);
  await mkdir(dir, { recursive: true });
  const files: Array<[string, string | Buffer]> = Object.entries(exp.files);
  for (const who of ['ak', 'ek'] as const) {
    const c = chains[who];
    if (c) files.push([`${who}-cert.pem`, c.leaf], [`${who}-chain.pem`, c.untrusted]);
  }
  for (const [name, data] of files) await writeFile(path.join(dir, name), data);
  return exp;
}
