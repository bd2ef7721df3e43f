// New key pairs: each type signs and verifies as generated keys do, and exports as JWK; and a
// loop of generations and JWK exports under heavy garbage collection (the pattern that
// deadlocks with keys straight from generateKeyPairSync) runs to its end in a child process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { newKeyPair } from './key-pairs.js';

test('rsa, ec and ed25519 pairs sign, verify and export as JWK', () => {
  const data = Buffer.from('sealkeep');
  for (const [type, options, hash] of [
    ['rsa', { modulusLength: 2048 }, 'sha256'],
    ['ec', { namedCurve: 'P-256' }, 'sha256'],
    ['ed25519', {}, null],
  ] as const) {
    const { privateKey, publicKey } = newKeyPair(type, options);
    assert.equal(privateKey.asymmetricKeyType, type);
    assert.ok(verify(hash, data, publicKey, sign(hash, data, privateKey)), type);
    assert.equal(privateKey.export({ format: 'jwk' }).kty, type === 'rsa' ? 'RSA' : type === 'ec' ? 'EC' : 'OKP');
  }
  assert.equal(newKeyPair('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey.export({ format: 'jwk' }).e, 'Aw');
});

test('thousands of generations exported as JWK under garbage-collection pressure finish', () => {
  const helper = fileURLToPath(new URL('./key-pairs.ts', import.meta.url));
  const loop = `
    const { newKeyPair } = await import(${JSON.stringify(helper)});
    const junk = [];
    for (let i = 0; i < 3000; i++) {
      newKeyPair('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
      for (let j = 0; j < 200; j++) junk.push({ a: 'x'.repeat(50) + j });
      if (junk.length > 20000) junk.length = 0;
    }
    console.log('done');`;
  const r = spawnSync(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', '--input-type=module', '-e', loop], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'the loop hung (killed after 60 s)');
  assert.equal(r.stdout.trim(), 'done', r.stderr);
});
