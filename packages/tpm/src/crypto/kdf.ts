// The TPM's two key derivation functions (Part 1 §11.4.10): KDFa, the SP800-108 counter-mode
// KDF with HMAC that derives every symmetric key, HMAC key and primary-key stream, and KDFe,
// the SP800-56A concatenation KDF applied to ECDH shared secrets. Also a KDFa stream whose
// counter carries across draws, the deterministic random source for primary keys.

import { createHash, createHmac } from 'node:crypto';
import { digestSize, nodeHashName } from './hash.js';

/** A KDF label: a string (ASCII, as the spec's "STORAGE") or raw bytes. */
export type KdfLabel = string | Uint8Array;

const EMPTY = Buffer.alloc(0);

/**
 * The label as hashed: its bytes followed by one 0x00 unless it already ends in 0x00. An absent
 * or empty label is a single 0x00. Part 1 §11.4.10.1 ("Label ... a NULL-terminated string"),
 * matching the reference CryptKDFa/CryptKDFe which add the NUL only when it is missing.
 */
export function terminatedLabel(label: KdfLabel | null | undefined): Buffer {
  const bytes = label === null || label === undefined ? EMPTY : typeof label === 'string' ? Buffer.from(label, 'latin1') : Buffer.from(label);
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0) return bytes;
  return Buffer.concat([bytes, Buffer.of(0)]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** Clear the excess high-order bits of the first byte when `bits` is not a multiple of 8 (Part 1 §11.4.10.2). */
function maskToBits(out: Buffer, bits: number): Buffer {
  const extra = bits % 8;
  if (extra !== 0 && out.length > 0) out[0]! &= (1 << extra) - 1;
  return out;
}

function kdfaBlocks(
  hashAlg: number,
  key: Uint8Array,
  label: Buffer,
  contextU: Uint8Array,
  contextV: Uint8Array,
  sizeInBits: number,
  bytes: number,
  firstCounter: number,
): Buffer {
  const name = nodeHashName(hashAlg);
  const hLen = digestSize(hashAlg);
  const blocks: Buffer[] = [];
  const sizeField = u32(sizeInBits);
  for (let made = 0, counter = firstCounter; made < bytes; made += hLen, counter++) {
    blocks.push(createHmac(name, key).update(u32(counter)).update(label).update(contextU).update(contextV).update(sizeField).digest());
  }
  return Buffer.concat(blocks).subarray(0, bytes);
}

/**
 * KDFa(hashAlg, key, label, contextU, contextV, bits), Part 1 §11.4.10.2:
 * K(i) = HMAC(key, [i]32 || label || 0x00 || contextU || contextV || [bits]32), i = 1, 2, ...;
 * the result is the leftmost ceil(bits/8) bytes with the excess top bits cleared.
 */
export function kdfa(
  hashAlg: number,
  key: Uint8Array,
  label: KdfLabel | null,
  contextU: Uint8Array | null,
  contextV: Uint8Array | null,
  bits: number,
): Buffer {
  if (!Number.isInteger(bits) || bits < 0) throw new Error(`KDFa: bad bit count ${bits}`);
  const bytes = Math.ceil(bits / 8);
  const out = kdfaBlocks(hashAlg, key, terminatedLabel(label), contextU ?? EMPTY, contextV ?? EMPTY, bits, bytes, 1);
  return maskToBits(out, bits);
}

/**
 * KDFe(hashAlg, Z, label, partyUInfo, partyVInfo, bits), Part 1 §11.4.10.3 (SP800-56A §5.8.1):
 * K(i) = H([i]32 || Z || label || 0x00 || partyUInfo || partyVInfo); leftmost bits, top bits cleared.
 */
export function kdfe(
  hashAlg: number,
  z: Uint8Array,
  label: KdfLabel | null,
  partyUInfo: Uint8Array | null,
  partyVInfo: Uint8Array | null,
  bits: number,
): Buffer {
  if (!Number.isInteger(bits) || bits < 0) throw new Error(`KDFe: bad bit count ${bits}`);
  const name = nodeHashName(hashAlg);
  const hLen = digestSize(hashAlg);
  const bytes = Math.ceil(bits / 8);
  const lbl = terminatedLabel(label);
  const blocks: Buffer[] = [];
  for (let made = 0, counter = 1; made < bytes; made += hLen, counter++) {
    blocks.push(
      createHash(name)
        .update(u32(counter))
        .update(z)
        .update(lbl)
        .update(partyUInfo ?? EMPTY)
        .update(partyVInfo ?? EMPTY)
        .digest(),
    );
  }
  return maskToBits(Buffer.concat(blocks).subarray(0, bytes), bits);
}

/**
 * A deterministic byte stream from KDFa whose counter continues from draw to draw, as the
 * reference's CryptKDFa(counterInOut) used for primary-object creation (Part 1 §11.4.10.2 and
 * §28.3 "Primary Object Creation"). Each draw of n bytes hashes [n*8]32 as its size field
 * and starts at the next unused counter; whole blocks are consumed per draw.
 */
export class KdfaStream {
  private counter = 1;
  private readonly label: Buffer;
  constructor(
    private readonly hashAlg: number,
    private readonly key: Uint8Array,
    label: KdfLabel,
    private readonly contextU: Uint8Array = EMPTY,
    private readonly contextV: Uint8Array = EMPTY,
  ) {
    this.label = terminatedLabel(label);
  }

  /** The next `bytes` bytes of the stream. */
  draw(bytes: number): Buffer {
    const out = kdfaBlocks(this.hashAlg, this.key, this.label, this.contextU, this.contextV, bytes * 8, bytes, this.counter);
    this.counter += Math.ceil(bytes / digestSize(this.hashAlg));
    return out;
  }
}
