// Endorsement provisioning: the EKs created in the TPM, certified, and stored in NV where
// tpm2-tools look for them — read back over mssim by tpm2_getekcertificate and tpm2_nvread,
// the keys compared with what tpm2_createek derives, and the NV indices compared with swtpm's
// when the same certificate is stored the same way there.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { InProcessTransport, type Transport } from '../client/transport.js';
import { Tpm } from '../engine/tpm.js';
import { TPM_ALG, TPM_CC, TPM_RH } from '../wire/constants.js';
import { MssimTransport } from '../transport/mssim-client.js';
import { haveTpm2Tools, withTpmServer, type Tpm2Tools } from '../testing/tpm2-tools.js';
import { startSwtpm } from '../testing/swtpm.js';
import { Startup } from '../commands/startup/index.js';
import { NV_Read, NV_ReadPublic } from '../commands/nv/index.js';
import { ManufacturerCa } from './manufacturer-ca.js';
import { EK_CERT_INDEX, EK_CERT_NV_ATTRIBUTES, createEndorsementKey, describeTpm, provisionEndorsement, storeEkCertificate } from './endorsement.js';

const exec = promisify(execFile);

/** ppwrite|writedefine|ppread|ownerread|authread|no_da|written|platformcreate, as on real TPMs. */
const WRITTEN_EK_CERT_ATTRIBUTES = 0x62072001;

async function startedTpm(): Promise<{ tpm: Tpm; client: TpmClient; commands: number[] }> {
  const tpm = new Tpm({ onInternalError: (e) => console.error('internal error', e) });
  const commands: number[] = [];
  const inner = new InProcessTransport(tpm);
  const counting: Transport = { send: (c) => (commands.push(Buffer.from(c).readUInt32BE(6)), inner.send(c)) };
  const client = new TpmClient(counting);
  await client.call(Startup, {}, { startupType: 0 });
  return { tpm, client, commands };
}

/** NV_Read of a whole index with owner authorization, in 1024-byte pieces. */
async function readIndex(client: TpmClient, nvIndex: number): Promise<Buffer> {
  const { nvPublic } = await client.call(NV_ReadPublic, { nvIndex }, {});
  const parts: Buffer[] = [];
  for (let offset = 0; offset < nvPublic.dataSize; offset += 1024) {
    const size = Math.min(1024, nvPublic.dataSize - offset);
    const { data } = await client.call(NV_Read, { authHandle: TPM_RH.OWNER, nvIndex }, { size, offset }, { auth: [password()] });
    parts.push(data);
  }
  return Buffer.concat(parts);
}

describe('endorsement provisioning, in process', () => {
  let ca: ManufacturerCa;
  let dir: string;
  before(async () => {
    ca = await ManufacturerCa.create();
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-endorsement-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("the certificates name the TPM as GetCapability describes it", async () => {
    const { client } = await startedTpm();
    const d = await describeTpm(client);
    assert.deepEqual(d.tpm, { manufacturer: 'id:534B4550', model: 'Sealkeep', version: 'id:00010000' });
    assert.deepEqual(d.specification, { family: '2.0', level: 0, revision: 159 });
  });

  test('both EK certificates land at the TCG indices with the platform attributes, and verify', async () => {
    const { tpm, client } = await startedTpm();
    const p = await provisionEndorsement(tpm, ca);
    writeFileSync(path.join(dir, 'root.pem'), ca.toPem());
    for (const alg of ['rsa2048', 'eccP256'] as const) {
      const { nvPublic } = await client.call(NV_ReadPublic, { nvIndex: EK_CERT_INDEX[alg] }, {});
      assert.equal(nvPublic.nvIndex, EK_CERT_INDEX[alg]);
      assert.equal(nvPublic.nameAlg, TPM_ALG.SHA256);
      assert.equal(nvPublic.attributes >>> 0, WRITTEN_EK_CERT_ATTRIBUTES);
      assert.equal(nvPublic.authPolicy.length, 0);
      assert.equal(nvPublic.dataSize, p[alg].certificate.der.length);
      assert.deepEqual(await readIndex(client, EK_CERT_INDEX[alg]), p[alg].certificate.der);
      const f = path.join(dir, `${alg}.der`);
      writeFileSync(f, p[alg].certificate.der);
      const { stdout } = await exec('openssl', ['verify', '-x509_strict', '-CAfile', path.join(dir, 'root.pem'), f]);
      assert.equal(stdout.trim(), `${f}: OK`);
    }
    assert.equal(EK_CERT_NV_ATTRIBUTES | (1 << 29), WRITTEN_EK_CERT_ATTRIBUTES, 'WRITTEN is the only bit the write adds');
  });

  test("each certificate holds the public key of the TPM's EK for the TCG template", async () => {
    const { tpm, client } = await startedTpm();
    const p = await provisionEndorsement(tpm, ca);
    for (const alg of ['rsa2048', 'eccP256'] as const) {
      const ek = await createEndorsementKey(client, alg);
      const spki = ek.export({ type: 'spki', format: 'der' });
      assert.deepEqual(p[alg].publicKey.export({ type: 'spki', format: 'der' }), spki);
      const { X509Certificate } = await import('node:crypto');
      assert.deepEqual(new X509Certificate(p[alg].certificate.der).publicKey.export({ type: 'spki', format: 'der' }), spki);
    }
    assert.equal(tpm.objects.transientHandles().length, 0, 'the EKs are flushed again');
  });

  test('provisioning again replaces the certificates', async () => {
    const { tpm, client } = await startedTpm();
    const first = await provisionEndorsement(tpm, ca);
    const second = await provisionEndorsement(tpm, ca);
    assert.notDeepEqual(first.rsa2048.certificate.der, second.rsa2048.certificate.der);
    assert.deepEqual(await readIndex(client, EK_CERT_INDEX.rsa2048), second.rsa2048.certificate.der);
    assert.deepEqual(await readIndex(client, EK_CERT_INDEX.eccP256), second.eccP256.certificate.der);
  });

  test('a certificate larger than one NV_Write goes in chunks of TPM_PT_NV_BUFFER_MAX', async () => {
    const { client, commands } = await startedTpm();
    const blob = Buffer.from(Array.from({ length: 2000 }, (_, i) => i & 0xff));
    commands.length = 0;
    await storeEkCertificate(client, EK_CERT_INDEX.rsa2048, blob);
    assert.equal(commands.filter((c) => c === TPM_CC.NV_Write).length, 2);
    assert.deepEqual(await readIndex(client, EK_CERT_INDEX.rsa2048), blob);
  });

  test('a wrong platform authValue is refused by the TPM', async () => {
    const { tpm } = await startedTpm();
    await assert.rejects(provisionEndorsement(tpm, ca, { platformAuth: Buffer.from('wrong') }), /NV_DefineSpace|AUTH_FAIL|BAD_AUTH/i);
  });
});

describe('endorsement provisioning, read by tpm2-tools over mssim', { skip: !haveTpm2Tools && 'tpm2-tools not installed' }, () => {
  test('tpm2_getekcertificate and tpm2_nvread return exactly the stored DER; tpm2_createek finds the certified keys', async () => {
    const ca = await ManufacturerCa.create();
    await withTpmServer(async (tools: Tpm2Tools, tpm) => {
      await tools.run('tpm2_startup', ['-c']);
      const p = await provisionEndorsement(tpm, ca);
      const read = (name: string) => readFileSync(tools.file(name));

      await tools.run('tpm2_getekcertificate', ['-o', 'rsa.der', '-o', 'ecc.der']);
      assert.deepEqual(read('rsa.der'), p.rsa2048.certificate.der);
      assert.deepEqual(read('ecc.der'), p.eccP256.certificate.der);

      await tools.run('tpm2_nvread', ['0x01C00002', '-C', 'o', '-o', 'nv-rsa.der']);
      await tools.run('tpm2_nvread', ['0x01C0000A', '-C', 'o', '-o', 'nv-ecc.der']);
      assert.deepEqual(read('nv-rsa.der'), p.rsa2048.certificate.der);
      assert.deepEqual(read('nv-ecc.der'), p.eccP256.certificate.der);

      const pub = (await tools.run('tpm2_nvreadpublic', ['0x01C00002'])).stdout;
      assert.match(pub, /friendly: ppwrite\|writedefine\|ppread\|ownerread\|authread\|no_da\|written\|platformcreate\n\s+value: 0x62072001/);
      assert.match(pub, new RegExp(`size: ${p.rsa2048.certificate.der.length}\\n`));

      writeFileSync(tools.file('root.pem'), ca.toPem());
      const { stdout } = await exec('openssl', ['verify', '-CAfile', 'root.pem', 'rsa.der', 'ecc.der'], { cwd: tools.dir });
      assert.equal(stdout, 'rsa.der: OK\necc.der: OK\n');

      for (const [g, alg] of [['rsa', 'rsa2048'], ['ecc', 'eccP256']] as const) {
        await tools.run('tpm2_createek', ['-c', `ek-${g}.ctx`, '-G', g, '-u', `ek-${g}.pem`, '-f', 'pem']);
        assert.equal(read(`ek-${g}.pem`).toString(), p[alg].publicKey.export({ type: 'spki', format: 'pem' }));
      }
    });
  });
});

const haveSwtpm = await exec('swtpm', ['--version']).then(
  () => true,
  () => false,
);

describe('endorsement provisioning against swtpm', { skip: (!haveSwtpm || !haveTpm2Tools) && 'swtpm or tpm2-tools not installed' }, () => {
  test('the same NV steps store certificates in swtpm, and the same certificate gets the same NV index there as here', async () => {
    const ca = await ManufacturerCa.create();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-swtpm-ek-'));
    const swtpm = await startSwtpm();
    const env = { ...process.env, TPM2TOOLS_TCTI: swtpm.tcti };
    try {
      // swtpm serves one connection at a time: the tools first, then this package's client.
      // swtpm's EKs come from tpm2_createek: this package's client cannot decode libtpms'
      // CreatePrimary response (its creation ticket is an HMAC-SHA-512, over our TPM2B_DIGEST limit).
      const ekPem: Record<string, Buffer> = {};
      for (const g of ['rsa', 'ecc'] as const) {
        for (let i = 0; i < 50; i++) {
          if (await exec('tpm2_createek', ['-c', `ek-${g}.ctx`, '-G', g, '-u', `ek-${g}.pem`, '-f', 'pem'], { env, cwd: dir }).then(() => true, () => false)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await exec('tpm2_flushcontext', ['-t'], { env, cwd: dir });
        ekPem[g] = readFileSync(path.join(dir, `ek-${g}.pem`));
      }
      const transport = await MssimTransport.connect(`127.0.0.1:${swtpm.port}`, { platform: false });
      const client = new TpmClient(transport);
      const described = await describeTpm(client);
      assert.equal(described.tpm.manufacturer, 'id:49424D00');
      const theirs: Record<string, Buffer> = {};
      for (const [g, alg] of [['rsa', 'rsa2048'], ['ecc', 'eccP256']] as const) {
        const ekPublicKey = createPublicKey(ekPem[g]!);
        theirs[alg] = ca.issueEkCertificate({ ekPublicKey, tpm: described.tpm, specification: described.specification }).der;
        await storeEkCertificate(client, EK_CERT_INDEX[alg], theirs[alg]!);
      }
      await transport.close();
      await exec('tpm2_getekcertificate', ['-o', 'rsa.der', '-o', 'ecc.der'], { env, cwd: dir });
      assert.deepEqual(readFileSync(path.join(dir, 'rsa.der')), theirs.rsa2048);
      assert.deepEqual(readFileSync(path.join(dir, 'ecc.der')), theirs.eccP256);
      const onSwtpm = (await exec('tpm2_nvreadpublic', ['0x01C00002'], { env })).stdout;
      // Store swtpm's RSA certificate in our TPM too: same bytes, same platform steps, same Name.
      await withTpmServer(async (tools, tpm) => {
        await tools.run('tpm2_startup', ['-c']);
        await storeEkCertificate(new TpmClient(new InProcessTransport(tpm)), EK_CERT_INDEX.rsa2048, theirs.rsa2048!);
        assert.equal((await tools.run('tpm2_nvreadpublic', ['0x01C00002'])).stdout, onSwtpm);
      });
    } finally {
      await swtpm.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
