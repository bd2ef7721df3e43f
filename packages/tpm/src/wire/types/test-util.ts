// Helpers shared by the wire type tests: hex, round trips, and asserting the WireError RC.

import assert from 'node:assert/strict';
import { marshal, unmarshal, WireError, type Codec } from '../codec.js';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** marshal → unmarshal gives the value back, and re-marshaling gives the same bytes. */
export function roundTrip<T>(codec: Codec<T>, value: T): Buffer {
  const bytes = marshal(codec, value);
  const back = unmarshal(codec, bytes);
  assert.deepEqual(back, value);
  assert.deepEqual(marshal(codec, back), bytes);
  return bytes;
}

/** Unmarshaling `bytes` fails with WireError carrying `rc`. */
export function rejects(codec: Codec<unknown>, bytes: Uint8Array, rc: number): void {
  assert.throws(
    () => unmarshal(codec, bytes),
    (e: unknown) => e instanceof WireError && e.rc === rc,
    `${codec.name}: expected WireError rc 0x${rc.toString(16)}`,
  );
}
