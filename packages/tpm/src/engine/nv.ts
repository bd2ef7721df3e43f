// NV indices (Part 1 §37): index definitions with their data, the Name of each index
// (nameAlg || H(TPMS_NV_PUBLIC), which changes with the attributes: WRITTEN, the locks), the
// written bit that NV_Read checks, the largest count a deleted counter held (a new counter starts
// above it, Part 1 §37.2.4), the _STCLEAR rules at Startup, and which index types a command
// may authorize with the index's own authValue or policy.

import { TPM_CC } from '../wire/command-codes.js';
import { TPM_NT, TPM_RC, TPMA_NV, nvIndexType } from '../wire/constants.js';
import { marshal } from '../wire/codec.js';
import { TPMS_NV_PUBLIC } from '../wire/types/index.js';
import { digest } from '../crypto/hash.js';
import { fail } from './command.js';
import type { Hierarchies } from './hierarchy.js';
import { ownAll, ownBytes } from './owned-bytes.js';

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

const has = (attributes: number, bit: number) => (attributes & bit) !== 0;

/** Commands that write an index (reference IsWriteOperation); NV_WriteLock counts as one. */
const WRITE_COMMANDS = new Set<number>([TPM_CC.NV_Write, TPM_CC.NV_Increment, TPM_CC.NV_SetBits, TPM_CC.NV_Extend, TPM_CC.NV_WriteLock]);

/**
 * Whether an index may authorize `commandCode` by itself (authHandle = the index): writes need
 * TPMA_NV_AUTHWRITE (POLICYWRITE with a policy session), everything else AUTHREAD (POLICYREAD).
 * Reference IsAuthValueAvailable / IsAuthPolicyAvailable; otherwise TPM_RC_AUTH_UNAVAILABLE.
 */
export function nvAuthAvailable(attributes: number, commandCode: number, policy: boolean): boolean {
  const write = WRITE_COMMANDS.has(commandCode);
  if (policy) return has(attributes, write ? TPMA_NV.POLICYWRITE : TPMA_NV.POLICYREAD);
  return has(attributes, write ? TPMA_NV.AUTHWRITE : TPMA_NV.AUTHREAD);
}

export class NvStore {
  private readonly indices = new Map<number, NvIndex>();
  /** The largest value a deleted counter index held (reference gp.maxCounter). */
  maxCounter = 0n;

  has(h: number): boolean {
    return this.indices.has(h);
  }

  /** An index is usable only while its hierarchy is enabled (reference NvIndexIsAccessible). */
  isAccessible(h: number, hierarchy: Hierarchies): boolean {
    const i = this.indices.get(h);
    if (!i) return false;
    return has(i.public.attributes, TPMA_NV.PLATFORMCREATE) ? hierarchy.phEnableNV && hierarchy.phEnable : hierarchy.shEnable;
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
    this.indices.set(pub.nvIndex, ownAll({ public: pub, name: nvName(pub), authValue, data: Buffer.alloc(pub.dataSize, 0xff) }));
  }

  /** Put back an index exactly as saved (engine/state.ts): attributes, auth and data as they were. */
  restore(pub: NvPublic, authValue: Buffer, data: Buffer): void {
    this.indices.set(pub.nvIndex, ownAll({ public: pub, name: nvName(pub), authValue, data }));
  }

  /** Attributes changed (written, locks): the Name changes with them. */
  update(h: number, attributes: number): void {
    const i = this.get(h);
    i.public = { ...i.public, attributes: attributes >>> 0 };
    i.name = ownBytes(nvName(i.public));
  }

  /** Write `bytes` at `offset` and mark the index written. */
  write(h: number, offset: number, bytes: Buffer): void {
    const i = this.get(h);
    bytes.copy(i.data, offset);
    if (!has(i.public.attributes, TPMA_NV.WRITTEN)) this.update(h, i.public.attributes | TPMA_NV.WRITTEN);
  }

  /** The value a counter index holds; an unwritten counter starts at the largest count ever held. */
  counterValue(h: number): bigint {
    const i = this.get(h);
    return has(i.public.attributes, TPMA_NV.WRITTEN) ? i.data.readBigUInt64BE(0) : this.maxCounter;
  }

  setAuthValue(h: number, authValue: Buffer): void {
    this.get(h).authValue = Buffer.from(authValue);
  }

  undefine(h: number): void {
    const i = this.indices.get(h);
    if (i && nvIndexType(i.public.attributes) === TPM_NT.COUNTER && has(i.public.attributes, TPMA_NV.WRITTEN)) {
      const v = i.data.readBigUInt64BE(0);
      if (v > this.maxCounter) this.maxCounter = v;
    }
    this.indices.delete(h);
  }

  /** TPM2_Clear: every index not created by the platform goes. */
  clearOwnerIndices(): void {
    for (const [h, i] of this.indices) if (!has(i.public.attributes, TPMA_NV.PLATFORMCREATE)) this.undefine(h);
  }

  /**
   * TPM Reset or Restart (Startup(CLEAR)): READ_STCLEAR read locks and WRITE_STCLEAR write locks
   * release (a lock on a WRITEDEFINE index lasts until it is undefined), and CLEAR_STCLEAR
   * indices become unwritten.
   */
  onStartupClear(): void {
    for (const [h, i] of this.indices) {
      let a = i.public.attributes;
      if (has(a, TPMA_NV.READ_STCLEAR)) a &= ~TPMA_NV.READLOCKED;
      if (has(a, TPMA_NV.WRITE_STCLEAR) && !has(a, TPMA_NV.WRITEDEFINE)) a &= ~TPMA_NV.WRITELOCKED;
      if (has(a, TPMA_NV.CLEAR_STCLEAR)) a &= ~TPMA_NV.WRITTEN;
      if (a >>> 0 !== i.public.attributes) this.update(h, a);
    }
  }

  handles(): number[] {
    return [...this.indices.keys()].sort((a, b) => a - b);
  }

  entries(): IterableIterator<NvIndex> {
    return this.indices.values();
  }
}
