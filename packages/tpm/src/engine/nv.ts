// NV indices (Part 1 §37): index definitions with their data, the Name of each index
// (nameAlg || H(TPMS_NV_PUBLIC)), and the written bit that NV_Read checks.

import { TPM_RC } from '../wire/constants.js';
import { marshal } from '../wire/codec.js';
import { TPMS_NV_PUBLIC } from '../wire/types/index.js';
import { digest } from '../crypto/hash.js';
import { fail } from './command.js';

export const MAX_NV_INDICES = 96;
/** Total NV bytes available for index data (a small TPM's NV budget). */
export const NV_MEMORY_BYTES = 96 * 1024;

export type NvPublic = typeof TPMS_NV_PUBLIC extends { decode(...a: any[]): infer T } ? T : never;

export interface NvIndex {
  public: NvPublic;
  name: Buffer;
  authValue: Buffer;
  data: Buffer;
}

export function nvName(pub: NvPublic): Buffer {
  const alg = Buffer.alloc(2);
  alg.writeUInt16BE(pub.nameAlg);
  return Buffer.concat([alg, digest(pub.nameAlg, marshal(TPMS_NV_PUBLIC, pub))]);
}

export class NvStore {
  private readonly indices = new Map<number, NvIndex>();

  has(h: number): boolean {
    return this.indices.has(h);
  }

  get(h: number): NvIndex {
    const i = this.indices.get(h);
    if (!i) fail(TPM_RC.HANDLE);
    return i;
  }

  bytesUsed(): number {
    let n = 0;
    for (const i of this.indices.values()) n += i.data.length;
    return n;
  }

  define(pub: NvPublic, authValue: Buffer): void {
    if (this.indices.has(pub.nvIndex)) fail(TPM_RC.NV_DEFINED);
    if (this.indices.size >= MAX_NV_INDICES || this.bytesUsed() + pub.dataSize > NV_MEMORY_BYTES) fail(TPM_RC.NV_SPACE);
    this.indices.set(pub.nvIndex, { public: pub, name: nvName(pub), authValue: Buffer.from(authValue), data: Buffer.alloc(pub.dataSize, 0xff) });
  }

  /** Attributes changed (written, locks): the Name changes with them. */
  update(h: number, attributes: number): void {
    const i = this.get(h);
    i.public = { ...i.public, attributes };
    i.name = nvName(i.public);
  }

  undefine(h: number): void {
    this.indices.delete(h);
  }

  handles(): number[] {
    return [...this.indices.keys()].sort((a, b) => a - b);
  }

  entries(): IterableIterator<NvIndex> {
    return this.indices.values();
  }
}
