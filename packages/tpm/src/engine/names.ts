// Names (Part 1 §16): an object's Name is its nameAlg and the digest of its public area; its
// Qualified Name chains the Names from its hierarchy down; a hierarchy's is its handle.

import { marshal } from '../wire/codec.js';
import { TPM_ALG } from '../wire/constants.js';
import { TPMT_PUBLIC } from '../wire/types/index.js';
import { digest } from '../crypto/hash.js';

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** Name = nameAlg || H_nameAlg(marshal(TPMT_PUBLIC)); empty when nameAlg is TPM_ALG_NULL. */
export function objectName(pub: TPMT_PUBLIC): Buffer {
  if (pub.nameAlg === TPM_ALG.NULL) return Buffer.alloc(0);
  return Buffer.concat([u16(pub.nameAlg), digest(pub.nameAlg, marshal(TPMT_PUBLIC.plus, pub))]);
}

/** Part 1 §16.6: QN = nameAlg || H_nameAlg(parent's QN || Name); a hierarchy's QN is its handle. */
export function qualifiedName(parentQN: Buffer, pub: TPMT_PUBLIC, name: Buffer): Buffer {
  if (pub.nameAlg === TPM_ALG.NULL) return name;
  return Buffer.concat([u16(pub.nameAlg), digest(pub.nameAlg, parentQN, name)]);
}

export function hierarchyQN(hierarchy: number): Buffer {
  return u32(hierarchy);
}
