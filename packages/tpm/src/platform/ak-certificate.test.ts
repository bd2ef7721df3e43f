// The attestation key's certificate: issued beside the ECC EK certificate, stored in NV, naming
// the same TPM and bound to that EK; the key in it is the AK the TPM creates; OpenSSL accepts it
// under the manufacturer root and shows its fields.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { InProcessTransport } from '../client/transport.js';
import { attestationKeyTemplate } from '../client/templates.js';
import { Tpm } from '../engine/tpm.js';
import { TPM_RH } from '../wire/constants.js';
import { Startup } from '../commands/startup/index.js';
import { CreatePrimary } from '../commands/hierarchy/index.js';
import { ManufacturerCa } from './manufacturer-ca.js';
import { AK_CERT_INDEX, EK_CERT_INDEX, provisionAttestationKey, provisionEndorsement, publicKeyOfArea, readNvCertificate } from './endorsement.js';
import { AK_CERTIFICATE_EKU, akHardwareSerial, ekBinding } from './ak-certificate.js';

const exec = promisify(execFile);
const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

let ca: ManufacturerCa;
let client: TpmClient;
let dir: string;

before(async () => {
  ca = await ManufacturerCa.create();
  client = new TpmClient(new InProcessTransport(new Tpm()));
  await client.call(Startup, {}, { startupType: 0 });
  await provisionEndorsement(client, ca);
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-ak-cert-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the AK certificate is in NV, certifies the TPM's own AK, and is bound to its ECC EK certificate", async () => {
  const provisioned = await provisionAttestationKey(client, ca);
  const stored = await readNvCertificate(client, AK_CERT_INDEX);
  assert.ok(stored?.equals(provisioned.certificate.der));

  const cert = new X509Certificate(stored!);
  assert.ok(cert.verify(new X509Certificate(ca.certificate).publicKey), 'signed by the manufacturer root');
  const ak = await client.call(
    CreatePrimary,
    { primaryHandle: TPM_RH.ENDORSEMENT },
    { inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) }, inPublic: attestationKeyTemplate('eccP256'), outsideInfo: Buffer.alloc(0), creationPCR: [] },
    { auth: [password()] },
  );
  const spki = (k: { export(o: object): Buffer | string }) => k.export({ type: 'spki', format: 'der' }) as Buffer;
  assert.ok(spki(cert.publicKey).equals(spki(publicKeyOfArea(ak.outPublic))), 'the key the TPM creates as its AK');

  const ekCertificate = (await readNvCertificate(client, EK_CERT_INDEX.eccP256))!;
  assert.ok(akHardwareSerial(stored!)?.equals(ekBinding(ekCertificate)), 'hardwareModuleName serial = SHA-256 of the EK SPKI');
  const otherEk = await ManufacturerCa.create().then(async (other) => {
    const c = new TpmClient(new InProcessTransport(new Tpm()));
    await c.call(Startup, {}, { startupType: 0 });
    return (await provisionEndorsement(c, other)).eccP256.certificate.der;
  });
  assert.ok(!akHardwareSerial(stored!)!.equals(ekBinding(otherEk)), "another TPM's EK does not match");
  assert.ok(!cert.subject, 'an empty subject: the TPM is named in the subjectAltName');
  assert.match(cert.subjectAltName ?? '', /DirName/);
});

test('no EK certificate, no AK certificate', async () => {
  const bare = new TpmClient(new InProcessTransport(new Tpm()));
  await bare.call(Startup, {}, { startupType: 0 });
  await assert.rejects(provisionAttestationKey(bare, ca), /no ECC EK certificate/);
  assert.equal(await readNvCertificate(bare, AK_CERT_INDEX), null);
});

test('openssl verify accepts the AK certificate under the root and shows the AIK usage', { skip: !haveOpenssl && 'openssl is not installed' }, async () => {
  const { certificate } = await provisionAttestationKey(client, ca);
  writeFileSync(path.join(dir, 'root.pem'), ca.toPem());
  writeFileSync(path.join(dir, 'ak.pem'), certificate.pem);
  const verified = await exec('openssl', ['verify', '-x509_strict', '-CAfile', 'root.pem', 'ak.pem'], { cwd: dir, encoding: 'utf8' });
  assert.equal(verified.stdout.trim(), 'ak.pem: OK');
  const text = (await exec('openssl', ['x509', '-in', 'ak.pem', '-noout', '-text'], { cwd: dir, encoding: 'utf8' })).stdout;
  assert.match(text, new RegExp(AK_CERTIFICATE_EKU.replace(/\./g, '\\.')));
  assert.match(text, /Digital Signature/);
  assert.match(text, /CA:FALSE/);
});
