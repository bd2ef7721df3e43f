// EK certificates (TCG EK Credential Profile for TPM Family 2.0 §3.2) judged three ways: OpenSSL
// verifies them (and refuses them tampered), PKI.js parses back every field, and the TCG
// extensions are byte-for-byte those swtpm_cert writes for the same TPM.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as pkijs from 'pkijs';
import { children, oid, toPem, type Element } from './asn1.js';
import { ManufacturerCa } from './manufacturer-ca.js';
import { TCG_OID, certificatePolicies, ekExtendedKeyUsage, spkiOf, tcgId, tpmSpecificationAttributes, tpmSubjectAltName } from './ek-certificate.js';
import { newKeyPair } from '@sealkeep/crypto/key-pairs';

const exec = promisify(execFile);
const haveSwtpmCert = await exec('swtpm_cert', ['--version']).then(
  () => true,
  () => false,
);

const TPM = { manufacturer: tcgId(0x534b4550), model: 'Sealkeep', version: tcgId(0x00010000) };
const SPEC = { family: '2.0', level: 0, revision: 159 };

/** extnID (dotted) → { critical, extnValue } of a certificate, in order. */
function extensionsOf(der: Buffer): Map<string, { critical: boolean; value: Buffer }> {
  const tbs = children(children(der)[0]!);
  const exts = tbs.find((e) => e.tag === 0xa3)!;
  const known = ['2.5.29.9', '2.5.29.14', '2.5.29.15', '2.5.29.17', '2.5.29.19', '2.5.29.32', '2.5.29.35', '2.5.29.37'];
  const byDer = new Map(known.map((id) => [oid(id).toString('hex'), id]));
  const out = new Map<string, { critical: boolean; value: Buffer }>();
  for (const ext of children(children(exts)[0]!)) {
    const parts: Element[] = children(ext);
    const id = byDer.get(parts[0]!.der.toString('hex')) ?? parts[0]!.der.toString('hex');
    out.set(id, { critical: parts.length === 3 && parts[1]!.contents[0] === 0xff, value: parts[parts.length - 1]!.contents });
  }
  return out;
}

/** The extnValue of one extension built here. */
const extnValue = (ext: Buffer) => children(ext).at(-1)!.contents.toString('hex');

describe('EK certificate', () => {
  let dir: string;
  let ca: ManufacturerCa;
  const eks: Record<'rsa' | 'ecc', { key: KeyObject; der: Buffer; pem: string }> = {} as never;
  const file = (name: string, contents?: string | Buffer) => {
    const p = path.join(dir, name);
    if (contents !== undefined) writeFileSync(p, contents);
    return p;
  };
  const openssl = async (...args: string[]) => (await exec('openssl', args, { cwd: dir, encoding: 'utf8' })).stdout;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-ekcert-'));
    ca = await ManufacturerCa.create();
    file('root.pem', ca.toPem());
    const keys = { rsa: newKeyPair('rsa', { modulusLength: 2048 }).publicKey, ecc: newKeyPair('ec', { namedCurve: 'P-256' }).publicKey };
    for (const kind of ['rsa', 'ecc'] as const) {
      const { der, pem } = ca.issueEkCertificate({ ekPublicKey: keys[kind], tpm: TPM, specification: SPEC });
      eks[kind] = { key: keys[kind], der, pem };
      file(`ek-${kind}.pem`, pem);
      file(`ek-${kind}.der`, der);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const kind of ['rsa', 'ecc'] as const) {
    test(`${kind}: openssl verify accepts it under the root, also in strict mode`, async () => {
      assert.equal((await openssl('verify', '-CAfile', 'root.pem', `ek-${kind}.pem`)).trim(), `ek-${kind}.pem: OK`);
      assert.equal((await openssl('verify', '-x509_strict', '-CAfile', 'root.pem', `ek-${kind}.pem`)).trim(), `ek-${kind}.pem: OK`);
    });

    test(`${kind}: openssl x509 -text shows the profile's fields and TCG OIDs`, async () => {
      const text = await openssl('x509', '-inform', 'der', '-in', `ek-${kind}.der`, '-noout', '-text');
      assert.match(text, /Version: 3 \(0x2\)/);
      assert.match(text, /Issuer: C = US, O = Sealkeep Emulated TPM Manufacturer, CN = Sealkeep EK Root CA\n/);
      assert.match(text, /Subject: ?\n/);
      assert.match(text, /Not After : Dec 31 23:59:59 9999 GMT/);
      assert.match(text, /X509v3 Subject Alternative Name: critical\n\s+DirName:\/2\.23\.133\.2\.1=id:534B4550\/2\.23\.133\.2\.2=Sealkeep\/2\.23\.133\.2\.3=id:00010000\n/);
      assert.match(text, /X509v3 Extended Key Usage: ?\n\s+2\.23\.133\.8\.1\n/);
      assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
      assert.match(text, /X509v3 Certificate Policies: ?\n\s+Policy: X509v3 Any Policy\n\s+User Notice:\n\s+Explicit Text: TCPA Trusted Platform Module Endorsement\n/);
      assert.match(text, /X509v3 Subject Directory Attributes: ?\n/);
      assert.match(text, kind === 'rsa' ? /X509v3 Key Usage: critical\n\s+Key Encipherment\n/ : /X509v3 Key Usage: critical\n\s+Key Agreement\n/);
      assert.match(text, kind === 'rsa' ? /Public Key Algorithm: rsaEncryption/ : /Public Key Algorithm: id-ecPublicKey[\s\S]*ASN1 OID: prime256v1/);
      const aki = /X509v3 Authority Key Identifier: ?\n\s+(?:keyid:)?([0-9A-F:]+)\n/.exec(text)?.[1];
      assert.equal(aki?.replace(/:/g, '').toLowerCase(), ca.keyIdentifier.toString('hex'));
    });

    test(`${kind}: the certificate's public key is the EK's (SPKI DER)`, async () => {
      const spki = eks[kind].key.export({ type: 'spki', format: 'der' });
      assert.deepEqual(new X509Certificate(eks[kind].der).publicKey.export({ type: 'spki', format: 'der' }), spki);
      const pem = await openssl('x509', '-inform', 'der', '-in', `ek-${kind}.der`, '-noout', '-pubkey');
      assert.equal(pem, eks[kind].key.export({ type: 'spki', format: 'pem' }));
      assert.deepEqual(spkiOf(spki), spki);
    });

    test(`${kind}: a changed signature byte or TBS byte is refused`, async () => {
      const der = eks[kind].der;
      const badSignature = Buffer.from(der);
      badSignature[badSignature.length - 3]! ^= 0x01;
      const badTbs = Buffer.from(der);
      const at = badTbs.indexOf(Buffer.from(TPM.model), badTbs.indexOf(oid(TCG_OID.tpmModel)));
      assert.ok(at > 0);
      badTbs[at + 7] = 'q'.charCodeAt(0); // Sealkeep -> Sealkeeq in the SAN
      for (const [name, bytes] of [['bad-sig', badSignature], ['bad-tbs', badTbs]] as const) {
        const f = file(`${name}-${kind}.der`, bytes);
        await assert.rejects(openssl('verify', '-CAfile', 'root.pem', f), (e: { stdout?: string; stderr?: string }) => {
          assert.match(`${e.stdout}${e.stderr}`, /certificate signature failure/);
          return true;
        });
      }
    });

    test(`${kind}: PKI.js parses back every field and verifies the signature`, async () => {
      const cert = pkijs.Certificate.fromBER(eks[kind].der);
      const root = pkijs.Certificate.fromBER(ca.certificate);
      assert.equal(cert.version, 2);
      assert.equal(cert.subject.typesAndValues.length, 0);
      assert.deepEqual(
        cert.extensions!.map((e) => [e.extnID, e.critical]),
        [
          ['2.5.29.32', false],
          ['2.5.29.17', true],
          ['2.5.29.19', true],
          ['2.5.29.9', false],
          ['2.5.29.35', false],
          ['2.5.29.15', true],
          ['2.5.29.37', false],
        ],
      );
      const ext = (id: string) => cert.extensions!.find((e) => e.extnID === id)!.parsedValue;
      const san = ext('2.5.29.17') as pkijs.AltName;
      assert.equal(san.altNames.length, 1);
      assert.equal(san.altNames[0]!.type, 4);
      const dn = (san.altNames[0]!.value as pkijs.RelativeDistinguishedNames).typesAndValues.map((t) => [t.type, t.value.valueBlock.value]);
      assert.deepEqual(dn, [
        [TCG_OID.tpmManufacturer, TPM.manufacturer],
        [TCG_OID.tpmModel, TPM.model],
        [TCG_OID.tpmVersion, TPM.version],
      ]);
      const sda = ext('2.5.29.9') as pkijs.SubjectDirectoryAttributes;
      assert.equal(sda.attributes.length, 1);
      assert.equal(sda.attributes[0]!.type, TCG_OID.tpmSpecification);
      const spec = sda.attributes[0]!.values[0] as unknown as { valueBlock: { value: Array<{ valueBlock: { value: unknown; valueDec?: number } }> } };
      const [family, level, revision] = spec.valueBlock.value;
      assert.deepEqual([family!.valueBlock.value, level!.valueBlock.valueDec, revision!.valueBlock.valueDec], ['2.0', 0, 159]);
      assert.deepEqual((ext('2.5.29.37') as pkijs.ExtKeyUsage).keyPurposes, [TCG_OID.ekCertificate]);
      assert.equal((ext('2.5.29.19') as pkijs.BasicConstraints).cA, false);
      const aki = ext('2.5.29.35') as pkijs.AuthorityKeyIdentifier;
      assert.deepEqual(Buffer.from(aki.keyIdentifier!.valueBlock.valueHexView), ca.keyIdentifier);
      assert.equal(cert.issuer.isEqual(root.subject), true);
      assert.equal(await cert.verify(root), true);
    });
  }

  test('extension values match swtpm_cert known answers', () => {
    // From `swtpm_cert --tpm2 --tpm-manufacturer id:00001014 --tpm-model swtpm --tpm-version
    // id:20191023 --tpm-spec-family 2.0 --tpm-spec-level 0 --tpm-spec-revision 164`.
    const san = tpmSubjectAltName({ manufacturer: 'id:00001014', model: 'swtpm', version: 'id:20191023' });
    assert.equal(
      extnValue(san),
      '3046a444304231163014060567810502010c0b69643a30303030313031343110300e060567810502020c05737774706d31163014060567810502030c0b69643a3230313931303233',
    );
    assert.equal(extnValue(tpmSpecificationAttributes({ family: '2.0', level: 0, revision: 164 })), '3019301706056781050210310e300c0c03322e30020100020200a4');
    assert.equal(extnValue(ekExtendedKeyUsage()), '300706056781050801');
    assert.equal(children(certificatePolicies()).length, 2, 'certificatePolicies is not critical');
  });

  test('the TCG extensions equal those swtpm_cert writes for the same TPM and keys', { skip: !haveSwtpmCert && 'swtpm_cert not installed' }, async () => {
    file('ca.key', toPem('PRIVATE KEY', Buffer.from(ca.exportState().privateKey, 'base64')));
    const common = ['--tpm2', '--signkey', 'ca.key', '--issuercert', 'root.pem', '--tpm-manufacturer', TPM.manufacturer, '--tpm-model', TPM.model, '--tpm-version', TPM.version];
    const spec = ['--tpm-spec-family', SPEC.family, '--tpm-spec-level', String(SPEC.level), '--tpm-spec-revision', String(SPEC.revision)];
    file('ek-rsa.pub', eks.rsa.key.export({ type: 'spki', format: 'pem' }));
    await exec('swtpm_cert', [...common, ...spec, '--pubkey', 'ek-rsa.pub', '--out-cert', 'swtpm-rsa.der'], { cwd: dir });
    const jwk = eks.ecc.key.export({ format: 'jwk' });
    const coord = (c: string) => Buffer.from(c, 'base64url').toString('hex');
    await exec('swtpm_cert', [...common, ...spec, '--ecc-x', coord(jwk.x!), '--ecc-y', coord(jwk.y!), '--out-cert', 'swtpm-ecc.der'], { cwd: dir });
    for (const kind of ['rsa', 'ecc'] as const) {
      const theirs = extensionsOf(readFileSync(file(`swtpm-${kind}.der`)));
      const ours = extensionsOf(eks[kind].der);
      // SAN, basicConstraints, subjectDirectoryAttributes, keyUsage, extendedKeyUsage, authorityKeyIdentifier.
      for (const id of ['2.5.29.17', '2.5.29.19', '2.5.29.9', '2.5.29.15', '2.5.29.37', '2.5.29.35']) {
        assert.deepEqual(ours.get(id), theirs.get(id), `${kind} extension ${id}`);
      }
      assert.deepEqual(new X509Certificate(readFileSync(file(`swtpm-${kind}.der`))).publicKey.export({ type: 'spki', format: 'der' }), spkiOf(eks[kind].key));
    }
  });

  test('bad inputs are refused', () => {
    const ekPublicKey = newKeyPair('ec', { namedCurve: 'P-256' });
    const base = { tpm: TPM, specification: SPEC };
    assert.throws(() => ca.issueEkCertificate({ ...base, ekPublicKey: ekPublicKey.privateKey }), /public key/);
    assert.throws(() => ca.issueEkCertificate({ ...base, ekPublicKey: newKeyPair('ed25519').publicKey }), /RSA or an ECC/);
    assert.throws(() => ca.issueEkCertificate({ ...base, ekPublicKey: ekPublicKey.publicKey, serialNumber: Buffer.alloc(4) }), /serialNumber/);
    assert.throws(() => ca.issueEkCertificate({ ...base, ekPublicKey: ekPublicKey.publicKey, serialNumber: Buffer.alloc(20, 0xff) }), /serialNumber/);
    assert.ok(ca.issueEkCertificate({ ...base, ekPublicKey: ekPublicKey.publicKey, serialNumber: Buffer.alloc(20, 0x7f) }).der.length > 0);
  });
});

