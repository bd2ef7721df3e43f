// AES-256-XTS known answers: IEEE Std 1619-2007 Annex B vectors 10–14 (512-byte data units),
// read from test/vectors/xts-ieee1619.txt, through both engines, encrypting and decrypting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { enginesUnderTest } from './engines-under-test.js';

interface Vector {
  name: string;
  key: Buffer;
  iv: Buffer;
  plaintext: Buffer;
  ciphertext: Buffer;
}

/** The OpenSSL evp-test stanzas of the file, named by the "# Vector N" comment above each. */
function readVectors(cipher: string): Vector[] {
  const text = readFileSync(fileURLToPath(new URL('../../../../test/vectors/xts-ieee1619.txt', import.meta.url)), 'utf8');
  const vectors: Vector[] = [];
  let name = '';
  let fields: Record<string, string> = {};
  const flush = () => {
    if (fields.Cipher === cipher && fields.Result === undefined) {
      const hex = (k: string) => Buffer.from(fields[k] ?? assert.fail(`${name}: no ${k}`), 'hex');
      vectors.push({ name, key: hex('Key'), iv: hex('IV'), plaintext: hex('Plaintext'), ciphertext: hex('Ciphertext') });
    }
    fields = {};
  };
  for (const line of text.split('\n')) {
    const comment = /^# (Vector \d+)/.exec(line);
    if (comment) name = comment[1]!;
    const field = /^(\w+) = (.*)$/.exec(line);
    if (field) fields[field[1]!] = field[2]!.trim();
    else if (line.trim() === '') flush();
  }
  flush();
  return vectors;
}

const vectors = readVectors('aes-256-xts');

test('the vector file holds IEEE 1619-2007 vectors 10–14, 512-byte data units', () => {
  assert.deepEqual(
    vectors.map((v) => v.name),
    ['Vector 10', 'Vector 11', 'Vector 12', 'Vector 13', 'Vector 14'],
  );
  for (const v of vectors) assert.equal(v.plaintext.length, 512);
});

for (const { name, engine, skip } of enginesUnderTest()) {
  test(`${name}: IEEE 1619-2007 AES-256 vectors 10–14 encrypt and decrypt`, { skip }, () => {
    for (const v of vectors) {
      // The IV is the data-unit sequence number, u64 little-endian, zero above: plain64.
      assert.ok(v.iv.subarray(8).equals(Buffer.alloc(8)), `${v.name}: IV beyond 64 bits`);
      const lba = v.iv.readBigUInt64LE(0);
      const cipher = engine!.openSectorCipher({ key: v.key, sectorSize: 512 });
      const out = Buffer.alloc(512);
      cipher.encrypt(lba, v.plaintext, out);
      assert.equal(out.toString('hex'), v.ciphertext.toString('hex'), `${v.name} encrypt`);
      cipher.decrypt(lba, v.ciphertext, out);
      assert.equal(out.toString('hex'), v.plaintext.toString('hex'), `${v.name} decrypt`);
      cipher.destroy();
    }
  });

  test(`${name}: a batch equals its sectors one by one (vector 10's key at LBAs 0xff..0x102)`, { skip }, () => {
    const v = vectors[0]!;
    const cipher = engine!.openSectorCipher({ key: v.key, sectorSize: 512 });
    const batch = Buffer.concat([v.plaintext, v.plaintext, v.plaintext, v.plaintext]);
    const out = Buffer.alloc(batch.length);
    cipher.encrypt(0xffn, batch, out);
    assert.equal(out.subarray(0, 512).toString('hex'), v.ciphertext.toString('hex'));
    for (let i = 1; i < 4; i++) {
      const one = Buffer.alloc(512);
      cipher.encrypt(0xffn + BigInt(i), v.plaintext, one);
      assert.ok(one.equals(out.subarray(i * 512, (i + 1) * 512)), `sector ${i}`);
      assert.ok(!one.equals(v.ciphertext), 'another LBA, another ciphertext');
    }
    cipher.encrypt(0xffn, batch, batch); // in place
    assert.ok(batch.equals(out));
  });
}
