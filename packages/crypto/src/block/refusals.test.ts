// What the engines refuse, with a clear error and a stable code and no crash: XTS keys with equal
// halves or the wrong length, batches that are not whole sectors, mismatched or partly
// overlapping buffers, LBAs past 2^64-1, use after destroy(); and the raw addon given nonsense.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { randomBytes } from 'node:crypto';
import { enginesUnderTest } from './engines-under-test.js';
import { generateXtsKey } from './engine.js';
import { MAX_U64 } from './formats.js';
import { nativeAddonPath } from './native-engine.js';

const refused = (code: string, message?: RegExp) => ({ name: 'BlockCryptoError', code, ...(message ? { message } : {}) });

for (const { name, engine, skip } of enginesUnderTest()) {
  test(`${name}: XTS keys with equal halves or of the wrong length are refused`, { skip }, () => {
    const half = randomBytes(32);
    assert.throws(
      () => engine!.openSectorCipher({ key: Buffer.concat([half, half]), sectorSize: 512 }),
      refused('XTS_DUPLICATED_KEY_HALVES', /halves are equal/),
    );
    for (const length of [0, 32, 63, 65, 128]) {
      assert.throws(() => engine!.openSectorCipher({ key: randomBytes(length), sectorSize: 4096 }), refused('KEY_LENGTH', new RegExp(`64 bytes, got ${length}`)));
    }
    assert.throws(() => engine!.openSectorCipher({ key: generateXtsKey(), sectorSize: 1024 as 512 }), refused('INVALID_ARGUMENT', /512 or 4096/));
  });

  test(`${name}: integrity keys and volume ids of the wrong length are refused`, { skip }, () => {
    assert.throws(() => engine!.openSectorTagger({ key: randomBytes(16), volumeId: randomBytes(16), sectorSize: 512 }), refused('KEY_LENGTH', /32 bytes, got 16/));
    assert.throws(() => engine!.openSectorTagger({ key: randomBytes(32), volumeId: randomBytes(15), sectorSize: 512 }), refused('INVALID_ARGUMENT', /16 bytes/));
  });

  test(`${name}: batches that are not whole sectors, or with the wrong output, are refused`, { skip }, () => {
    const cipher = engine!.openSectorCipher({ key: generateXtsKey(), sectorSize: 4096 });
    const tagger = engine!.openSectorTagger({ key: randomBytes(32), volumeId: randomBytes(16), sectorSize: 4096 });
    for (const length of [1, 512, 4095, 4097, 3 * 4096 + 16]) {
      assert.throws(() => cipher.encrypt(0n, Buffer.alloc(length), Buffer.alloc(length)), refused('INVALID_ARGUMENT', /not a whole number of 4096-byte sectors/));
      assert.throws(() => cipher.decrypt(0n, Buffer.alloc(length), Buffer.alloc(length)), refused('INVALID_ARGUMENT'));
      assert.throws(() => tagger.tag(0n, 1n, Buffer.alloc(length), Buffer.alloc(32)), refused('INVALID_ARGUMENT'));
    }
    assert.throws(() => cipher.encrypt(0n, Buffer.alloc(8192), Buffer.alloc(4096)), refused('INVALID_ARGUMENT', /as long as the input/));
    const shared = Buffer.alloc(3 * 4096);
    assert.throws(() => cipher.encrypt(0n, shared.subarray(0, 8192), shared.subarray(4096)), refused('INVALID_ARGUMENT', /overlap/));
    assert.throws(() => tagger.tag(0n, 1n, Buffer.alloc(8192), Buffer.alloc(32)), refused('INVALID_ARGUMENT', /2 × 32 bytes/));
    assert.throws(() => tagger.tag(0n, BigUint64Array.of(1n), Buffer.alloc(8192), Buffer.alloc(64)), refused('INVALID_ARGUMENT', /one per sector/));
    assert.throws(() => tagger.tag(0n, -1n, Buffer.alloc(4096), Buffer.alloc(32)), refused('INVALID_ARGUMENT', /generation/));
    assert.throws(() => tagger.verify(0n, 1n, shared.subarray(0, 4096), shared.subarray(4064, 4096)), refused('INVALID_ARGUMENT', /overlap/));
    cipher.encrypt(0n, Buffer.alloc(0), Buffer.alloc(0)); // no sectors is not an error
  });

  test(`${name}: LBAs must stay within 0..2^64-1`, { skip }, () => {
    const cipher = engine!.openSectorCipher({ key: generateXtsKey(), sectorSize: 512 });
    const one = Buffer.alloc(512);
    cipher.encrypt(MAX_U64, one, Buffer.alloc(512));
    assert.throws(() => cipher.encrypt(MAX_U64, Buffer.alloc(1024), Buffer.alloc(1024)), refused('INVALID_ARGUMENT', /outside 0..2\^64-1/));
    assert.throws(() => cipher.encrypt(-1n, one, one), refused('INVALID_ARGUMENT'));
    assert.throws(() => cipher.encrypt(1 as unknown as bigint, one, one), refused('INVALID_ARGUMENT'));
  });

  test(`${name}: a destroyed cipher or tagger refuses every call, destroy() twice is harmless`, { skip }, () => {
    const cipher = engine!.openSectorCipher({ key: generateXtsKey(), sectorSize: 512 });
    const tagger = engine!.openSectorTagger({ key: randomBytes(32), volumeId: randomBytes(16), sectorSize: 512 });
    cipher.destroy();
    cipher.destroy();
    tagger.destroy();
    tagger.destroy();
    assert.throws(() => cipher.encrypt(0n, Buffer.alloc(512), Buffer.alloc(512)), refused('DESTROYED'));
    assert.throws(() => tagger.verify(0n, 0n, Buffer.alloc(512), Buffer.alloc(32)), refused('DESTROYED'));
  });
}

const [native] = enginesUnderTest();
test('the raw addon throws, never crashes, on wrong handles, lengths and types', { skip: native!.skip }, () => {
  const addon = createRequire(import.meta.url)(nativeAddonPath);
  const xts = addon.openXtsKey(generateXtsKey(), 512);
  const tag = addon.openTagKey(randomBytes(32), randomBytes(16), 512);
  const half = randomBytes(32);
  assert.throws(() => addon.openXtsKey(Buffer.concat([half, half]), 512), { code: 'ERR_SEALKEEP_XTS_KEY' });
  assert.throws(() => addon.openXtsKey(randomBytes(64), 1000), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => addon.xtsCrypt(tag, true, 0n, Buffer.alloc(512), Buffer.alloc(512)), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => addon.xtsCrypt({}, true, 0n, Buffer.alloc(512), Buffer.alloc(512)), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => addon.xtsCrypt(xts, true, 0n, Buffer.alloc(100), Buffer.alloc(100)), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => addon.xtsCrypt(xts, true, 0n, Buffer.alloc(512), Buffer.alloc(511)), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => addon.xtsCrypt(xts, true, 0n, new Uint16Array(256), Buffer.alloc(512)), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => addon.xtsCrypt(xts, true, 2n ** 64n, Buffer.alloc(512), Buffer.alloc(512)), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => addon.xtsCrypt(xts, true), { code: 'ERR_MISSING_ARGS' });
  assert.throws(() => addon.tagSectors(tag, 0n, [1n], Buffer.alloc(512), Buffer.alloc(32)), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => addon.tagSectors(tag, 0n, BigUint64Array.of(1n), Buffer.alloc(512), Buffer.alloc(31)), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => addon.destroy(42), { code: 'ERR_INVALID_ARG_TYPE' });
  addon.destroy(xts);
  assert.throws(() => addon.xtsCrypt(xts, true, 0n, Buffer.alloc(512), Buffer.alloc(512)), { code: 'ERR_SEALKEEP_KEY_DESTROYED' });
  addon.destroy(tag);
});

test('handles dropped with or without destroy() are finalised by the garbage collector without harm', { skip: native!.skip }, async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 2000; i++) {
    const cipher = native!.engine!.openSectorCipher({ key: generateXtsKey(), sectorSize: 512 });
    const tagger = native!.engine!.openSectorTagger({ key: randomBytes(32), volumeId: randomBytes(16), sectorSize: 512 });
    if (i % 2) {
      cipher.destroy();
      tagger.destroy();
    }
  }
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
});
