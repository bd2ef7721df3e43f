// DER known answers (X.690 examples and values from swtpm_cert / OpenSSL output) for the encoder,
// and the reader walking them back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import {
  NO_EXPIRATION,
  children,
  fromPem,
  keyIdentifier,
  namedBits,
  oid,
  readElement,
  randomSerial,
  setOf,
  time,
  tlv,
  toPem,
  uint,
  utf8,
} from './asn1.js';
import { ManufacturerCa } from './manufacturer-ca.js';
import { newKeyPair } from '@sealkeep/crypto/key-pairs';

const hex = (b: Buffer) => b.toString('hex');

const VECTORS: Array<[what: string, der: () => Buffer, expected: string]> = [
  ['OID tcg-kp-EKCertificate', () => oid('2.23.133.8.1'), '06056781050801'],
  ['OID tcg-at-tpmSpecification', () => oid('2.23.133.2.16'), '06056781050210'],
  ['OID sha256WithRSAEncryption', () => oid('1.2.840.113549.1.1.11'), '06092a864886f70d01010b'],
  ['OID ecdsa-with-SHA384', () => oid('1.2.840.10045.4.3.3'), '06082a8648ce3d040303'],
  ['INTEGER 0', () => uint(0), '020100'],
  ['INTEGER 127', () => uint(127), '02017f'],
  ['INTEGER 128 gets a sign octet', () => uint(128), '02020080'],
  ['INTEGER 164 (a spec revision)', () => uint(164), '020200a4'],
  ['INTEGER 2^64', () => uint(2n ** 64n), '0209010000000000000000'],
  ['INTEGER from bytes drops leading zeros', () => uint(Buffer.from('0000ff', 'hex')), '020200ff'],
  ['INTEGER from all-zero bytes', () => uint(Buffer.alloc(3)), '020100'],
  ['KeyUsage keyEncipherment', () => namedBits([2]), '03020520'],
  ['KeyUsage keyAgreement', () => namedBits([4]), '03020308'],
  ['KeyUsage keyCertSign|cRLSign', () => namedBits([5, 6]), '03020106'],
  ['KeyUsage digitalSignature', () => namedBits([0]), '03020780'],
  ['KeyUsage decipherOnly takes a second octet', () => namedBits([8]), '0303070080'],
  ['empty named-bit string', () => namedBits([]), '030100'],
  ['UTF8String', () => utf8('2.0'), '0c03322e30'],
  ['UTCTime up to 2049', () => time(new Date('2049-12-31T23:59:59.999Z')), `170d${hex(Buffer.from('491231235959Z'))}`],
  ['GeneralizedTime from 2050', () => time(new Date('2050-01-01T00:00:00Z')), `180f${hex(Buffer.from('20500101000000Z'))}`],
  ['no well-defined expiration', () => time(NO_EXPIRATION), `180f${hex(Buffer.from('99991231235959Z'))}`],
  ['long form length (200)', () => tlv(0x04, Buffer.alloc(200)).subarray(0, 3), '0481c8'],
  ['long form length (300)', () => tlv(0x04, Buffer.alloc(300)).subarray(0, 4), '0482012c'],
  ['SET OF sorts its elements', () => setOf(uint(2), uint(1)), '3106020101020102'],
];

for (const [what, der, expected] of VECTORS) {
  test(`DER: ${what}`, () => assert.equal(hex(der()), expected));
}

test('the reader walks nested elements back', () => {
  const der = tlv(0x30, uint(1), tlv(0x30, utf8('a'), Buffer.from(oid('2.5.4.3'))));
  const [one, inner] = children(der);
  assert.equal(hex(one!.der), '020101');
  assert.equal(inner!.tag, 0x30);
  assert.deepEqual(children(inner!).map((e) => e.tag), [0x0c, 0x06]);
  const long = tlv(0x04, Buffer.alloc(300, 7));
  assert.equal(readElement(long).contents.length, 300);
});

test('the reader refuses truncated DER', () => {
  assert.throws(() => readElement(Buffer.from('3005020101', 'hex')), /truncated/);
  assert.throws(() => readElement(Buffer.from('30', 'hex')), /truncated/);
});

test('random serials are 16 octets, positive, with no leading zero octet', () => {
  for (const first of [0x00, 0x80, 0xff, 0x01]) {
    const s = randomSerial((n) => Buffer.alloc(n, first));
    assert.equal(s.length, 16);
    assert.ok(s[0]! >= 1 && s[0]! <= 0x7f);
    assert.equal(readElement(uint(s)).contents.length, 16);
  }
});

test('keyIdentifier is SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1)', () => {
  const { publicKey } = newKeyPair('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const expected = createHash('sha1').update(point).digest();
  assert.deepEqual(keyIdentifier(publicKey.export({ type: 'spki', format: 'der' })), expected);
});

test('PEM armour matches what node writes and reads back', async () => {
  const ca = await ManufacturerCa.create();
  assert.equal(ca.toPem(), new X509Certificate(ca.certificate).toString());
  assert.deepEqual(fromPem('CERTIFICATE', ca.toPem()), ca.certificate);
  assert.equal(toPem('X', Buffer.alloc(48)), `-----BEGIN X-----\n${Buffer.alloc(48).toString('base64')}\n-----END X-----\n`);
});
