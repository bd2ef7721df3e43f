// The native and pure-Node engines give the same bytes on random batches; the addon works from
// several worker threads at once; SEALKEEP_CRYPTO_NATIVE chooses the engine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { enginesUnderTest } from './engines-under-test.js';
import { generateXtsKey } from './engine.js';
import { MAX_U64 } from './formats.js';
import { merkleRoot } from './merkle-root.js';
import { nativeAddonPath } from './native-engine.js';
import { nodeBlockCryptoEngine } from './node-engine.js';
import { selectBlockCryptoEngine } from './select-engine.js';

const [nativeUnderTest] = enginesUnderTest();
const native = nativeUnderTest!.engine;
const skip = nativeUnderTest!.skip;

test('native and pure Node agree on random batches: ciphertext, plaintext, tags, Merkle root', { skip }, () => {
  for (let round = 0; round < 20; round++) {
    const sectorSize = round % 2 ? 4096 : 512;
    const count = randomInt(1, 65);
    const firstLba = round === 0 ? MAX_U64 - BigInt(count - 1) : randomBytes(8).readBigUInt64LE(0) >> BigInt(randomInt(64));
    const xtsKey = generateXtsKey();
    const tagKey = randomBytes(32);
    const volumeId = randomBytes(16);
    const generations = round % 3 ? BigUint64Array.from({ length: count }, () => randomBytes(8).readBigUInt64LE(0)) : 9n;
    const plaintext = randomBytes(count * sectorSize);

    const results = [native!, nodeBlockCryptoEngine].map((engine) => {
      const cipher = engine.openSectorCipher({ key: xtsKey, sectorSize });
      const tagger = engine.openSectorTagger({ key: tagKey, volumeId, sectorSize });
      const ciphertext = Buffer.alloc(plaintext.length);
      cipher.encrypt(firstLba, plaintext, ciphertext);
      const tags = Buffer.alloc(count * 32);
      tagger.tag(firstLba, generations, ciphertext, tags);
      const inPlace = Buffer.from(ciphertext);
      cipher.decrypt(firstLba, inPlace, inPlace);
      assert.ok(inPlace.equals(plaintext), `${engine.name}: decrypts back in place`);
      assert.deepEqual(tagger.verify(firstLba, generations, ciphertext, tags), []);
      cipher.destroy();
      tagger.destroy();
      return { ciphertext, tags, root: engine.merkleRoot(tags) };
    });
    assert.deepEqual(results[0], results[1], `round ${round}: ${count} × ${sectorSize} B at LBA ${firstLba}`);
  }
});

test('native and pure Node give the same Merkle root for every leaf count from 0 to 70, and for 4097 and 2^16 + 3', { skip }, () => {
  for (const count of [...Array.from({ length: 71 }, (_, i) => i), 4097, 2 ** 16 + 3]) {
    const tags = randomBytes(32 * count);
    const reference = merkleRoot(tags);
    assert.equal(native!.merkleRoot(tags).toString('hex'), reference.toString('hex'), `${count} tags`);
    assert.equal(nodeBlockCryptoEngine.merkleRoot(tags).toString('hex'), reference.toString('hex'));
  }
  assert.throws(() => native!.merkleRoot(randomBytes(33)), { code: 'INVALID_ARGUMENT' });
});

test('the addon runs in two worker threads at once, each with its own keys, same bytes as here', { skip }, async () => {
  const key = generateXtsKey();
  const plaintext = randomBytes(64 * 4096);
  const expected = Buffer.alloc(plaintext.length);
  native!.openSectorCipher({ key, sectorSize: 4096 }).encrypt(123456n, plaintext, expected);
  // Each worker loads the addon itself (workers do not inherit the TypeScript loader, so they use
  // the addon's own interface) and encrypts the same batch many times, so the threads overlap.
  const workerCode = `
    const { parentPort, workerData } = require('node:worker_threads');
    const addon = require(workerData.addonPath);
    const key = addon.openXtsKey(workerData.key, 4096);
    const out = Buffer.alloc(workerData.plaintext.length);
    for (let i = 0; i < 200; i++) addon.xtsCrypt(key, true, 123456n, workerData.plaintext, out);
    addon.destroy(key);
    parentPort.postMessage(out);`;
  const run = () =>
    new Promise<Uint8Array>((resolve, reject) => {
      const worker = new Worker(workerCode, { eval: true, workerData: { addonPath: nativeAddonPath, key, plaintext } });
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  const outputs = await Promise.all([run(), run()]);
  for (const out of outputs) assert.ok(Buffer.from(out).equals(expected));
});

test('SEALKEEP_CRYPTO_NATIVE=0 forces pure Node; unset, the addon is chosen when it loads', () => {
  assert.equal(selectBlockCryptoEngine({ SEALKEEP_CRYPTO_NATIVE: '0' }).name, 'node');
  assert.equal(selectBlockCryptoEngine({}).name, native ? 'native' : 'node');
  if (native) assert.equal(selectBlockCryptoEngine({ SEALKEEP_CRYPTO_NATIVE: '1' }).name, 'native');
  else assert.throws(() => selectBlockCryptoEngine({ SEALKEEP_CRYPTO_NATIVE: '1' }), /did not load/);
});
