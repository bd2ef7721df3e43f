// The native engine's two AES-GCM paths for sealed bodies (native/gcm_in_place.h): sixteen blocks
// at a time on VAES and VPCLMULQDQ, taken where the CPU has them, and OpenSSL's. Both must give
// node:crypto's ciphertext and tag, and open each other's, for additional data and bodies of every
// length around the block and the sixteen-block run, cut into parts anywhere.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpuHas, enginesUnderTest, gcmReference } from './engines-under-test.js';
import { nativeAddonPath, nativeEvpGcmInPlace, nativeGcmPath } from './native-engine.js';

const native = enginesUnderTest()[0]!;

const vaesSkip = native.skip || (cpuHas('aes', 'pclmulqdq', 'avx512f', 'avx512bw', 'vaes', 'vpclmulqdq') ? false : 'this CPU has no VAES with AVX-512: only OpenSSL\'s path runs here');

/** `body` cut at random places into copies (empty parts included). */
function cut(body: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < 3 && at < body.length; i++) {
    const n = randomInt(0, body.length - at + 1);
    parts.push(Buffer.from(body.subarray(at, at + n)));
    at += n;
  }
  parts.push(Buffer.from(body.subarray(at)));
  return parts;
}

test('native: sealed bodies take the VAES path where the CPU has it', { skip: native.skip }, () => {
  assert.equal(nativeGcmPath(), cpuHas('aes', 'pclmulqdq', 'avx512f', 'avx512bw', 'vaes', 'vpclmulqdq') ? 'vaes' : 'evp');
});

test('native: the VAES and OpenSSL paths give node:crypto\'s GCM and GMAC, and open each other\'s, at every length', { skip: vaesSkip }, () => {
  const vaes = native.engine!.gcmInPlace;
  const evp = nativeEvpGcmInPlace()!;
  const lengths = [0, 1, 15, 16, 17, 255, 256, 257, 511, 512, 4096, 4096 + 7, 65_536 + 3, 1 << 20, ...Array.from({ length: 40 }, () => randomInt(0, 20_000))];
  for (const length of lengths) {
    for (const authenticateOnly of [false, true]) {
      const key = randomBytes(32);
      const iv = randomBytes(12);
      const aad = randomBytes(randomInt(0, 3) === 0 ? 0 : randomInt(1, 300));
      const body = randomBytes(length);
      const expected = gcmReference(key, iv, aad, body, authenticateOnly);
      const where = `${length} bytes, ${aad.length} of additional data${authenticateOnly ? ', authenticated only' : ''}`;
      for (const [name, gcm, other] of [['VAES', vaes, evp], ['OpenSSL', evp, vaes]] as const) {
        const parts = cut(body);
        const tag = Buffer.alloc(16);
        assert.equal(gcm(true, key, iv, aad, parts, tag, authenticateOnly), true);
        assert.ok(Buffer.concat(parts).equals(expected.ciphertext), `${name}, ${where}: the ciphertext`);
        assert.ok(tag.equals(expected.tag), `${name}, ${where}: the tag`);
        const again = cut(Buffer.concat(parts));
        assert.equal(other(false, key, iv, aad, again, tag, authenticateOnly), true, `${name}, ${where}: the other path opens it`);
        assert.ok(Buffer.concat(again).equals(body), `${name}, ${where}: opened back to the body`);
        const forged = Buffer.from(tag);
        forged[randomInt(16)]! ^= 1 << randomInt(8);
        assert.equal(gcm(false, key, iv, aad, cut(expected.ciphertext), forged, authenticateOnly), false, `${name}, ${where}: a forged tag`);
        if (length > 0) {
          const altered = Buffer.from(expected.ciphertext);
          altered[randomInt(length)]! ^= 1;
          assert.equal(gcm(false, key, iv, aad, cut(altered), tag, authenticateOnly), false, `${name}, ${where}: an altered body`);
        }
      }
    }
  }
});

test('native: a getter among the parts that detaches the key finds the key gone, never its freed memory', { skip: native.skip }, () => {
  const addon = createRequire(import.meta.url)(nativeAddonPath) as { gcmInPlace(...args: unknown[]): boolean };
  const key = new Uint8Array(32).fill(7);
  const parts = [Buffer.alloc(64)];
  Object.defineProperty(parts, 1, {
    enumerable: true,
    get: () => {
      structuredClone(key.buffer, { transfer: [key.buffer] }); // detaches the key's memory
      return Buffer.alloc(16);
    },
  });
  assert.throws(() => addon.gcmInPlace(true, key, randomBytes(12), Buffer.alloc(0), parts, Buffer.alloc(16), false), /key must be 32 bytes/);
});
