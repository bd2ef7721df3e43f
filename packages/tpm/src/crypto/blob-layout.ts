// The few byte layouts the crypto layer itself produces and parses (Part 2): a TPM2B_DIGEST
// in front of encrypted data (TPM2B_PRIVATE and TPM2B_ID_OBJECT contents, Part 2 §12.3.7 and
// §12.4.3) and TPMS_ECC_POINT (the contents of an ECC TPM2B_ENCRYPTED_SECRET, Part 1 §24.3).
// Declared with the wire codec so the layout lives in one vocabulary.

import { b2, marshal, Reader, struct, unmarshal } from '../wire/codec.js';
import { TPM2B_DIGEST } from '../wire/types/base.js';
import type { EccPoint } from './ecc.js';

/** Part 2 §11.2.5.1 TPM2B_ECC_PARAMETER, sized for P-521 (the crypto layer's curves; the TPM's own are fewer). */
const TPM2B_ECC_PARAMETER = b2('TPM2B_ECC_PARAMETER', 66);

/** Part 2 §11.2.5.2 TPMS_ECC_POINT. */
const TPMS_ECC_POINT = struct('TPMS_ECC_POINT', { x: TPM2B_ECC_PARAMETER, y: TPM2B_ECC_PARAMETER });

/** TPM2B_DIGEST(d) — a digest with its u16 size. */
export function sizedDigest(d: Uint8Array): Buffer {
  return marshal(TPM2B_DIGEST, Buffer.from(d));
}

/** TPM2B_DIGEST(digest) || rest, the layout of TPM2B_PRIVATE.buffer and TPM2B_ID_OBJECT.buffer. */
export function joinDigestAndData(digest: Uint8Array, data: Uint8Array): Buffer {
  return Buffer.concat([sizedDigest(digest), data]);
}

/** Split TPM2B_DIGEST || rest; null when the leading TPM2B does not fit. */
export function splitDigestAndData(blob: Uint8Array): { digest: Buffer; data: Buffer } | null {
  try {
    const r = new Reader(blob);
    const digest = TPM2B_DIGEST.decode(r);
    return { digest, data: r.bytes(r.remaining) };
  } catch {
    return null;
  }
}

export function marshalEccPoint(p: EccPoint): Buffer {
  return marshal(TPMS_ECC_POINT, { x: p.x, y: p.y });
}

/** The point in an ECC encrypted secret; throws WireError when malformed. */
export function unmarshalEccPoint(bytes: Uint8Array): EccPoint {
  return unmarshal(TPMS_ECC_POINT, bytes);
}
