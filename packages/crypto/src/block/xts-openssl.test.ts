// Both engines against the openssl command-line tool: random sectors at random LBAs, 512 and
// 4096 bytes. `openssl enc` refuses XTS ("enc XTS ciphers not supported"), so the reference is
// IEEE 1619-2007 §5.3.1 written out here over `openssl enc -aes-256-ecb`:
//   T_0 = AES-enc(key2, LBA as 16 bytes little-endian),  T_j+1 = T_j ⊗ α  in GF(2^128)
//   C_j = AES-enc(key1, P_j ⊕ T_j) ⊕ T_j
// That is a second, independent path to the same bytes (OpenSSL's AES, not its XTS mode).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { enginesUnderTest } from './engines-under-test.js';
import { generateXtsKey } from './engine.js';
import { MAX_U64, type SectorSize } from './formats.js';

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
const noOpenssl = !haveOpenssl && 'the openssl command-line tool is not installed';

function opensslEcbEncrypt(key: Buffer, data: Buffer): Buffer {
  const r = spawnSync('openssl', ['enc', '-aes-256-ecb', '-nopad', '-K', key.toString('hex')], { input: data, maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, `openssl enc failed: ${r.stderr}`);
  return r.stdout;
}

const MASK_128 = (1n << 128n) - 1n;
/** Multiplication by α (x) in GF(2^128) mod x^128 + x^7 + x^2 + x + 1, little-endian blocks. */
const timesAlpha = (t: bigint) => ((t << 1n) & MASK_128) ^ (t >> 127n ? 0x87n : 0n);

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function referenceXtsEncrypt(key: Buffer, firstLba: bigint, sectorSize: SectorSize, plaintext: Buffer): Buffer {
  const sectors = plaintext.length / sectorSize;
  const tweakInputs = Buffer.alloc(sectors * 16);
  for (let i = 0; i < sectors; i++) tweakInputs.writeBigUInt64LE(firstLba + BigInt(i), i * 16);
  const firstTweaks = opensslEcbEncrypt(key.subarray(32), tweakInputs);
  const tweaks = Buffer.alloc(plaintext.length);
  for (let i = 0; i < sectors; i++) {
    let t = firstTweaks.readBigUInt64LE(i * 16) | (firstTweaks.readBigUInt64LE(i * 16 + 8) << 64n);
    for (let at = i * sectorSize; at < (i + 1) * sectorSize; at += 16) {
      tweaks.writeBigUInt64LE(t & ((1n << 64n) - 1n), at);
      tweaks.writeBigUInt64LE(t >> 64n, at + 8);
      t = timesAlpha(t);
    }
  }
  return xor(opensslEcbEncrypt(key.subarray(0, 32), xor(plaintext, tweaks)), tweaks);
}

const randomLba = () => randomBytes(8).readBigUInt64LE(0) >> BigInt(randomBytes(1)[0]! % 64);

test('the reference reproduces IEEE 1619 vector 10 (so it can judge the engines)', { skip: noOpenssl }, () => {
  const key = Buffer.from(
    '27182818284590452353602874713526624977572470936999595749669676273141592653589793238462643383279502884197169399375105820974944592',
    'hex',
  );
  const plaintext = Buffer.from(Array.from({ length: 512 }, (_, i) => i & 0xff));
  const vectors = readFileSync(fileURLToPath(new URL('../../../../test/vectors/xts-ieee1619.txt', import.meta.url)), 'utf8');
  const vector10 = /IV = ff0{30}\nPlaintext = \w+\nCiphertext = (\w+)/.exec(vectors)![1]!;
  assert.equal(referenceXtsEncrypt(key, 0xffn, 512, plaintext).toString('hex'), vector10);
});

for (const sectorSize of [512, 4096] as const) {
  const cases = [0n, randomLba(), randomLba(), MAX_U64 - 2n].map((firstLba) => ({
    key: generateXtsKey(),
    firstLba,
    plaintext: randomBytes(3 * sectorSize),
  }));
  for (const { name, engine, skip } of enginesUnderTest()) {
    test(`${name}: ${sectorSize}-byte sectors at random LBAs agree with openssl`, { skip: skip || noOpenssl }, () => {
      for (const { key, firstLba, plaintext } of cases) {
        const expected = referenceXtsEncrypt(key, firstLba, sectorSize, plaintext);
        const cipher = engine!.openSectorCipher({ key, sectorSize });
        const out = Buffer.alloc(plaintext.length);
        cipher.encrypt(firstLba, plaintext, out);
        assert.equal(out.toString('hex'), expected.toString('hex'), `LBA ${firstLba}`);
        cipher.decrypt(firstLba, expected, out);
        assert.ok(out.equals(plaintext), `LBA ${firstLba}: decrypts back`);
        cipher.destroy();
      }
    });
  }
}
