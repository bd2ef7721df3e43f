// The TPM wire codec: composable codec values (integers, byte strings, TPM2B sized fields,
// TPML lists, TPMS structs, TPMU unions selected by a sibling field). Each codec marshals
// and unmarshals one TPM 2.0 Part 2 type; the TypeScript type of a value is inferred from
// its codec, so the wire layout is declared exactly once.
//
// Unmarshal failures throw WireError carrying the Part 2 response code the reference TPM
// returns for that failure (TPM_RC_INSUFFICIENT, TPM_RC_SIZE, TPM_RC_VALUE, ...). The command
// pipeline turns it into a format-one code naming the parameter or handle at fault.

import { TPM_RC } from './constants.js';

/** Raised while unmarshaling; `rc` is a format-one base code (without P/H/S bits or index). */
export class WireError extends Error {
  constructor(readonly rc: number, message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/** Sequential reader over one command or response buffer. */
export class Reader {
  offset = 0;
  constructor(readonly buf: Uint8Array, private end = buf.length) {}
  get remaining(): number {
    return this.end - this.offset;
  }
  private take(n: number): number {
    if (n > this.remaining) throw new WireError(TPM_RC.INSUFFICIENT, `need ${n} bytes, ${this.remaining} left`);
    const at = this.offset;
    this.offset += n;
    return at;
  }
  u8(): number {
    return this.buf[this.take(1)]!;
  }
  u16(): number {
    const at = this.take(2);
    return (this.buf[at]! << 8) | this.buf[at + 1]!;
  }
  u32(): number {
    const at = this.take(4);
    return ((this.buf[at]! << 24) >>> 0) + (this.buf[at + 1]! << 16) + (this.buf[at + 2]! << 8) + this.buf[at + 3]!;
  }
  u64(): bigint {
    const hi = this.u32();
    const lo = this.u32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
  bytes(n: number): Buffer {
    const at = this.take(n);
    return Buffer.from(this.buf.subarray(at, at + n));
  }
  /** A reader over the next `n` bytes; this reader skips past them. */
  sub(n: number): Reader {
    const at = this.take(n);
    const r = new Reader(this.buf, at + n);
    r.offset = at;
    return r;
  }
}

/** Growable big-endian writer. */
export class Writer {
  private buf = Buffer.allocUnsafe(256);
  length = 0;
  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // Each writer reserves room before touching this.buf: room() may replace the buffer.
  u8(v: number): void {
    const at = this.room(1);
    this.buf[at] = v & 0xff;
  }
  u16(v: number): void {
    const at = this.room(2);
    this.buf.writeUInt16BE(v & 0xffff, at);
  }
  u32(v: number): void {
    const at = this.room(4);
    this.buf.writeUInt32BE(v >>> 0, at);
  }
  u64(v: bigint): void {
    const at = this.room(8);
    this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), at);
  }
  bytes(b: Uint8Array): void {
    const at = this.room(b.length);
    this.buf.set(b, at);
  }
  /** Reserve a u16 size slot; returns a function that fills it with the bytes written since. */
  sizeSlot16(): () => void {
    const at = this.room(2);
    return () => this.buf.writeUInt16BE(this.length - at - 2, at);
  }
  sizeSlot32(): () => void {
    const at = this.room(4);
    return () => this.buf.writeUInt32BE(this.length - at - 4, at);
  }
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

/** One Part 2 type: its name (for messages) and both marshaling directions. */
export interface Codec<T> {
  readonly name: string;
  encode(w: Writer, v: T): void;
  decode(r: Reader): T;
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

export function marshal<T>(codec: Codec<T>, v: T): Buffer {
  const w = new Writer();
  codec.encode(w, v);
  return w.finish();
}

/** Unmarshal a whole buffer; trailing bytes are a size error. */
export function unmarshal<T>(codec: Codec<T>, buf: Uint8Array): T {
  const r = new Reader(buf);
  const v = codec.decode(r);
  if (r.remaining !== 0) throw new WireError(TPM_RC.SIZE, `${codec.name}: ${r.remaining} trailing bytes`);
  return v;
}

// ---- integers -------------------------------------------------------------------------------

export const u8: Codec<number> = { name: 'UINT8', encode: (w, v) => w.u8(v), decode: (r) => r.u8() };
export const u16: Codec<number> = { name: 'UINT16', encode: (w, v) => w.u16(v), decode: (r) => r.u16() };
export const u32: Codec<number> = { name: 'UINT32', encode: (w, v) => w.u32(v), decode: (r) => r.u32() };
export const u64: Codec<bigint> = { name: 'UINT64', encode: (w, v) => w.u64(v), decode: (r) => r.u64() };
export const i32: Codec<number> = {
  name: 'INT32',
  encode: (w, v) => w.u32(v >>> 0),
  decode: (r) => r.u32() | 0,
};

/**
 * An interface type (TPMI_*): an integer whose unmarshal accepts only listed values and
 * otherwise fails with the type's own response code (e.g. TPMI_ALG_HASH → TPM_RC_HASH).
 * `nullValue` is accepted only where the spec writes the type with a `+` (e.g. TPMI_ALG_HASH+).
 */
export function oneOf(
  name: string,
  base: Codec<number>,
  allowed: readonly number[],
  badRc: number,
  nullValue?: number,
): Codec<number> & { withNull(nullValue: number): Codec<number> } {
  const set = new Set(allowed);
  const make = (nv: number | undefined): Codec<number> => ({
    name,
    encode: base.encode,
    decode(r) {
      const v = base.decode(r);
      if (!set.has(v) && v !== nv) throw new WireError(badRc, `${name}: value 0x${v.toString(16)} not allowed`);
      return v;
    },
  });
  return Object.assign(make(nullValue), { withNull: (nv: number) => make(nv) });
}

/** An integer accepted only in [lo, hi] (handle ranges: TPMI_DH_PCR, TPMI_RH_NV_INDEX ...). */
export function inRange(name: string, base: Codec<number>, ranges: ReadonlyArray<readonly [number, number]>, badRc: number): Codec<number> {
  return {
    name,
    encode: base.encode,
    decode(r) {
      const v = base.decode(r);
      if (!ranges.some(([lo, hi]) => v >= lo && v <= hi)) {
        throw new WireError(badRc, `${name}: 0x${v.toString(16)} out of range`);
      }
      return v;
    },
  };
}

/** An attribute word (TPMA_*): reserved bits must be clear on unmarshal. */
export function attributes(name: string, base: Codec<number>, reservedMask: number, badRc: number = TPM_RC.RESERVED_BITS): Codec<number> {
  return {
    name,
    encode: base.encode,
    decode(r) {
      const v = base.decode(r);
      if ((v & reservedMask) !== 0) throw new WireError(badRc, `${name}: reserved bits set`);
      return v >>> 0;
    },
  };
}

// ---- byte strings -----------------------------------------------------------------------------

/** Fixed-length bytes. */
export function fixed(name: string, n: number): Codec<Buffer> {
  return {
    name,
    encode(w, v) {
      if (v.length !== n) throw new Error(`${name}: expected ${n} bytes, got ${v.length}`);
      w.bytes(v);
    },
    decode: (r) => r.bytes(n),
  };
}

/** TPM2B of plain bytes: u16 size then that many bytes, at most `max`. */
export function b2(name: string, max: number): Codec<Buffer> {
  return {
    name,
    encode(w, v) {
      if (v.length > max) throw new Error(`${name}: ${v.length} bytes exceeds ${max}`);
      w.u16(v.length);
      w.bytes(v);
    },
    decode(r) {
      const n = r.u16();
      if (n > max) throw new WireError(TPM_RC.SIZE, `${name}: size ${n} exceeds ${max}`);
      return r.bytes(n);
    },
  };
}

/**
 * TPM2B wrapping a structure (TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE, TPM2B_ECC_POINT ...).
 * A zero size decodes to `null` when `allowEmpty` (the "optional" forms); otherwise it is
 * TPM_RC_SIZE. The inner structure must use exactly the declared size.
 */
export function sized<T>(name: string, inner: Codec<T>, opts: { allowEmpty: true }): Codec<T | null>;
export function sized<T>(name: string, inner: Codec<T>, opts?: { allowEmpty?: false }): Codec<T>;
export function sized<T>(name: string, inner: Codec<T>, opts: { allowEmpty?: boolean } = {}): Codec<T | null> {
  return {
    name,
    encode(w, v) {
      if (v === null) {
        w.u16(0);
        return;
      }
      const done = w.sizeSlot16();
      inner.encode(w, v);
      done();
    },
    decode(r) {
      const n = r.u16();
      if (n === 0) {
        if (opts.allowEmpty) return null;
        throw new WireError(TPM_RC.SIZE, `${name}: empty`);
      }
      const sub = r.sub(n);
      const v = inner.decode(sub);
      if (sub.remaining !== 0) throw new WireError(TPM_RC.SIZE, `${name}: size ${n} does not match contents`);
      return v;
    },
  };
}

/**
 * TPML: u32 count then items, at most `max` items. `min` is the spec's lower bound where it
 * gives one (TPML_DIGEST {2:} for TPM2_PolicyOR); a count outside [min, max] is TPM_RC_SIZE.
 */
export function list<T>(name: string, item: Codec<T>, max: number, min = 0): Codec<T[]> {
  return {
    name,
    encode(w, v) {
      w.u32(v.length);
      for (const x of v) item.encode(w, x);
    },
    decode(r) {
      const n = r.u32();
      if (n > max) throw new WireError(TPM_RC.SIZE, `${name}: count ${n} exceeds ${max}`);
      if (n < min) throw new WireError(TPM_RC.SIZE, `${name}: count ${n} below ${min}`);
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(item.decode(r));
      return out;
    },
  };
}

// ---- structures and unions -------------------------------------------------------------------

type Fields = Record<string, Codec<any> | Selected<any>>;
type FieldValue<F> = F extends Selected<infer T> ? T : F extends Codec<infer T> ? T : never;
export type StructOf<F extends Fields> = { [K in keyof F]: FieldValue<F[K]> };

/** A TPMU member chosen by the value of an earlier field of the same structure. */
export interface Selected<T> {
  readonly selector: string;
  readonly name: string;
  encodeWith(w: Writer, sel: number, v: T): void;
  decodeWith(r: Reader, sel: number): T;
}

/**
 * A TPMU_* union: `arms` maps selector values to codecs; `fallback` (usually an empty
 * structure) serves TPM_ALG_NULL and other selectors the spec gives no member.
 */
export function union<M extends Record<number, Codec<any>>>(
  name: string,
  arms: M,
  opts: { fallback?: Codec<any>; badRc?: number } = {},
): (selector: string) => Selected<Infer<M[keyof M]>> {
  const pick = (sel: number): Codec<any> => {
    const arm = arms[sel] ?? opts.fallback;
    if (!arm) throw new WireError(opts.badRc ?? TPM_RC.SELECTOR, `${name}: no member for selector 0x${sel.toString(16)}`);
    return arm;
  };
  return (selector) => ({
    selector,
    name,
    encodeWith: (w, sel, v) => pick(sel).encode(w, v),
    decodeWith: (r, sel) => pick(sel).decode(r),
  });
}

/** An empty member (TPMS_EMPTY, the TPM_ALG_NULL arm of most unions). */
export const empty: Codec<null> = { name: 'TPMS_EMPTY', encode: () => {}, decode: () => null };

function isSelected(f: Codec<any> | Selected<any>): f is Selected<any> {
  return 'selector' in f;
}

/** A TPMS_/TPMT_ structure: fields marshaled in declaration order. */
export function struct<F extends Fields>(name: string, fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields);
  return {
    name,
    encode(w, v) {
      const obj = v as Record<string, any>;
      for (const [k, f] of entries) {
        if (isSelected(f)) f.encodeWith(w, obj[f.selector] as number, obj[k]);
        else f.encode(w, obj[k]);
      }
    },
    decode(r) {
      const out: Record<string, any> = {};
      for (const [k, f] of entries) {
        out[k] = isSelected(f) ? f.decodeWith(r, out[f.selector] as number) : f.decode(r);
      }
      return out as StructOf<F>;
    },
  };
}

/** Re-brand a codec under another spec name (e.g. TPM2B_NONCE is a TPM2B_DIGEST). */
export function alias<T>(name: string, c: Codec<T>): Codec<T> {
  return { name, encode: c.encode, decode: c.decode };
}
