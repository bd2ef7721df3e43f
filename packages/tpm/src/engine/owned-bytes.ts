// Long-lived bytes in a TPM's state get allocations of their own. Node hands out small buffers
// (Buffer.from, Buffer.concat, Buffer.allocUnsafe under 4 KiB) as slices of a shared 8 KiB pool,
// and a slice that a loaded TPM keeps holds its whole pool chunk alive: with thousands of TPMs
// in one process, that is most of an idle TPM's memory.

/** A copy of `bytes` in an allocation of its own. */
export function ownBytes(bytes: Uint8Array): Buffer {
  const own = Buffer.alloc(bytes.length);
  own.set(bytes);
  return own;
}

/** `value` with every Buffer in it (through plain objects and arrays) replaced by an own copy. */
export function ownAll<T>(value: T): T {
  if (Buffer.isBuffer(value)) return ownBytes(value) as T;
  if (Array.isArray(value)) return value.map(ownAll) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = ownAll(v);
    return out as T;
  }
  return value;
}
