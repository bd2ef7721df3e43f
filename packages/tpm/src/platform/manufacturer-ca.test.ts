// The emulated manufacturer root CA, judged by OpenSSL: a strict-mode valid self-signed v3 CA
// certificate, and a state that brings back the same CA (and nothing else).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect, promisify } from 'node:util';
import { DEFAULT_CA_SUBJECT, ManufacturerCa } from './manufacturer-ca.js';
import { tcgId } from './ek-certificate.js';
import { newKeyPair } from '@sealkeep/crypto/key-pairs';

const exec = promisify(execFile);

const EK_FIELDS = {
  tpm: { manufacturer: tcgId(0x534b4550), model: 'Sealkeep', version: tcgId(0x00010000) },
  specification: { family: '2.0', level: 0, revision: 159 },
};

describe('manufacturer CA', () => {
  let dir: string;
  let ca: ManufacturerCa;
  const file = (name: string, contents?: string | Buffer) => {
    const p = path.join(dir, name);
    if (contents !== undefined) writeFileSync(p, contents);
    return p;
  };
  const openssl = async (...args: string[]) => (await exec('openssl', args, { cwd: dir, encoding: 'utf8' })).stdout;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-ca-'));
    ca = await ManufacturerCa.create();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the root is a self-signed X.509 v3 CA that OpenSSL accepts in strict mode', async () => {
    const root = file('root.pem', ca.toPem());
    assert.equal((await openssl('verify', '-x509_strict', '-CAfile', root, root)).trim(), `${root}: OK`);
  });

  test('subject, validity, key and extensions are as the profile of a root asks', async () => {
    const text = await openssl('x509', '-in', file('root.pem', ca.toPem()), '-noout', '-text');
    const dn = `C = ${DEFAULT_CA_SUBJECT.country}, O = ${DEFAULT_CA_SUBJECT.organization}, CN = ${DEFAULT_CA_SUBJECT.commonName}`;
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, new RegExp(`Issuer: ${dn}\\n`));
    assert.match(text, new RegExp(`Subject: ${dn}\\n`));
    assert.match(text, /Not After : Dec 31 23:59:59 9999 GMT/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
    assert.match(text, /NIST CURVE: P-384/);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
    const ski = /X509v3 Subject Key Identifier: \n\s+([0-9A-F:]+)\n/.exec(text)?.[1];
    assert.equal(ski?.replace(/:/g, '').toLowerCase(), ca.keyIdentifier.toString('hex'));
  });

  test('serial numbers are random positive 16-octet integers', async () => {
    const other = await ManufacturerCa.create();
    const serial = async (c: ManufacturerCa, name: string) =>
      (await openssl('x509', '-in', file(name, c.toPem()), '-noout', '-serial')).trim().replace('serial=', '');
    const [a, b] = [await serial(ca, 'a.pem'), await serial(other, 'b.pem')];
    assert.match(a, /^[0-7][0-9A-F]{31}$/);
    assert.notEqual(a, b);
  });

  test('an RSA-3072 root signs with sha384WithRSAEncryption', async () => {
    const rsa = await ManufacturerCa.create({ keyType: 'rsa3072' });
    const root = file('rsa-root.pem', rsa.toPem());
    assert.equal((await openssl('verify', '-x509_strict', '-CAfile', root, root)).trim(), `${root}: OK`);
    const text = await openssl('x509', '-in', root, '-noout', '-text');
    assert.match(text, /Signature Algorithm: sha384WithRSAEncryption/);
    assert.match(text, /Public-Key: \(3072 bit\)/);
  });

  test('the exported state brings back the same CA, whose certificates the original root verifies', async () => {
    const state = JSON.parse(JSON.stringify(ca.exportState()));
    const restored = ManufacturerCa.fromState(state);
    assert.deepEqual(restored.certificate, ca.certificate);
    assert.deepEqual(restored.keyIdentifier, ca.keyIdentifier);
    const ek = newKeyPair('rsa', { modulusLength: 2048 }).publicKey;
    const cert = file('ek.pem', restored.issueEkCertificate({ ekPublicKey: ek, ...EK_FIELDS }).pem);
    assert.equal((await openssl('verify', '-CAfile', file('root.pem', ca.toPem()), cert)).trim(), `${cert}: OK`);
  });

  test('a state whose key is not the certificate key is refused', async () => {
    const other = await ManufacturerCa.create();
    const mixed = { ...ca.exportState(), privateKey: other.exportState().privateKey };
    assert.throws(() => ManufacturerCa.fromState(mixed), /does not match/);
    assert.throws(() => ManufacturerCa.fromState({ ...ca.exportState(), version: 2 as 1 }), /version/);
  });

  test('the private key shows neither in inspect() nor in JSON', () => {
    const secret = ca.exportState().privateKey;
    for (const shown of [inspect(ca, { depth: 10, showHidden: true }), JSON.stringify(ca)]) {
      assert.ok(!shown.includes(secret.slice(0, 40)));
      assert.ok(!/PRIVATE KEY|privateKey|pkcs8/i.test(shown));
    }
  });
});
