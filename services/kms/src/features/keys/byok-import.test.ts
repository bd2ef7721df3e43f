// BYOK through the API: an import job for every key type, wrapped both ways, and the imported
// key used against what node:crypto computes with the same material; tokens that are expired,
// spent or another tenant's; tampered blobs refused with one answer; rotation by import.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, createPrivateKey, randomBytes, verify } from 'node:crypto';
import { inTenant } from '@sealkeep/store';
import { KEY_TYPE_SPECS, KEY_TYPES, type KeyType } from './key-types.js';
import { importKey, keysApi, wrapForImport, type KeysApi } from './keys-api.fixture.js';
import { materialFor } from './keys.fixture.js';

let api: KeysApi;
before(async () => (api = await keysApi()));
after(() => api.close());


/** Use the imported key through the API and check the result with node:crypto and the same material. */
async function useImported(keyId: string, type: KeyType, material: Buffer): Promise<void> {
  const url = `${api.base}/keys/${keyId}`;
  const message = randomBytes(64);
  const kind = KEY_TYPE_SPECS[type].kind;
  if (type === 'aes-256') {
    const enc = await api.call(api.user, 'post', `${url}/encrypt`, { plaintext: message.toString('base64') });
    assert.equal(enc.status, 200, enc.text);
    const dec = await api.call(api.user, 'post', `${url}/decrypt`, { ciphertext: enc.body.ciphertext });
    assert.equal(Buffer.from(dec.body.plaintext, 'base64').toString('hex'), message.toString('hex'));
  } else if (kind === 'hmac') {
    const mac = await api.call(api.user, 'post', `${url}/hmac`, { message: message.toString('base64') });
    assert.equal(mac.status, 200, mac.text);
    assert.equal(mac.body.mac, createHmac('sha256', material).update(message).digest('base64'));
  } else if (kind === 'ec' || kind === 'rsa') {
    const sig = await api.call(api.user, 'post', `${url}/sign`, { message: message.toString('base64') });
    assert.equal(sig.status, 200, sig.text);
    const pub = createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
    const hash = KEY_TYPE_SPECS[type].hash ?? 'sha256';
    assert.ok(verify(hash, message, pub, Buffer.from(sig.body.signature, 'base64')), `${type}: the signature verifies with the tenant's own key`);
  }
}

for (const algorithm of ['rsa-aes-key-wrap-sha256', 'rsa-oaep-sha256'] as const) {
  test(`${algorithm}: every key type it can carry imports, and works as the tenant's own material does`, { timeout: 180_000 }, async () => {
    for (const type of KEY_TYPES) {
      const material = materialFor(type);
      if (algorithm === 'rsa-oaep-sha256' && material.length > 32) continue;
      const { res } = await importKey(api, `${type}-${algorithm}`, type, material, algorithm);
      assert.equal(res.status, 201, `${type}: ${res.text}`);
      assert.equal(res.body.type, type);
      assert.deepEqual(res.body.versions.map((v: { origin: string }) => v.origin), ['imported']);
      await useImported(res.body.keyId, type, material);
    }
  });
}

test('the job answers evidence: the AK certificate, the EK certificate, and a certify naming the wrapping key', async () => {
  const job = await api.call(api.officer, 'post', `${api.base}/import-jobs`, { keyName: 'evidence-check', keyType: 'aes-256', wrappingKeySpec: 'rsa-4096' });
  assert.equal(job.status, 201, job.text);
  const e = job.body.evidence;
  assert.equal(e.format, 'sealkeep.import-evidence.v1');
  assert.match(e.attestationKey.certificatePem, /BEGIN CERTIFICATE/);
  assert.match(e.ekCertificatePem, /BEGIN CERTIFICATE/);
  assert.equal(e.wrappingKey.name, job.body.wrappingKey.name);
  const name = Buffer.concat([Buffer.from([0, 0x0b]), createHash('sha256').update(Buffer.from(e.wrappingKey.tpmPublic, 'base64')).digest()]);
  assert.ok(Buffer.from(e.certify.attest, 'base64').includes(name), 'the certify structure names the wrapping key');
  assert.ok(new Date(job.body.expiresAt).getTime() - Date.now() <= 24 * 3600_000);
});

test('a token is good once, for its tenant, until it expires; every refusal is the same', async () => {
  const material = randomBytes(32);
  const { res, job } = await importKey(api, 'once', 'aes-256', material);
  assert.equal(res.status, 201);
  const again = await api.call(api.officer, 'post', `${api.base}/keys/import`, { importToken: job.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey: wrapForImport(job.wrappingKey.spkiPem, material, 'rsa-aes-key-wrap-sha256').toString('base64') });
  assert.equal(again.status, 400);
  assert.equal(again.body.type, 'https://sealkeep.dev/problems/import-token-invalid');

  const expiring = await api.call(api.officer, 'post', `${api.base}/import-jobs`, { keyName: 'late', keyType: 'aes-256' });
  await inTenant(api.f.store.db, api.tenantId, (trx) => trx('import_jobs').where({ job_id: expiring.body.importJobId }).update({ expires_at: new Date(Date.now() - 1000) }));
  const late = await api.call(api.officer, 'post', `${api.base}/keys/import`, { importToken: expiring.body.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey: wrapForImport(expiring.body.wrappingKey.spkiPem, material, 'rsa-aes-key-wrap-sha256').toString('base64') });
  assert.equal(late.body.type, again.body.type);

  const other = await api.f.newTenant();
  const foreign = await api.call(api.officer, 'post', `${api.base}/import-jobs`, { keyName: 'theirs', keyType: 'aes-256' });
  const stolen = await api.f.call(api.app, other.officer, 'post', `/v1/tenants/${other.tenantId}/keys/import`, { importToken: foreign.body.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey: wrapForImport(foreign.body.wrappingKey.spkiPem, material, 'rsa-aes-key-wrap-sha256').toString('base64') });
  assert.equal(stolen.status, 400);
  assert.equal(stolen.body.type, again.body.type, "another tenant's token is unknown here");
});

test('a tampered wrapped blob is refused with one answer, whichever layer failed, and the token stays usable', async () => {
  const material = randomBytes(32);
  const job = (await api.call(api.officer, 'post', `${api.base}/import-jobs`, { keyName: 'tamper', keyType: 'aes-256' })).body;
  const good = wrapForImport(job.wrappingKey.spkiPem, material, 'rsa-aes-key-wrap-sha256');
  const flip = (at: number) => {
    const b = Buffer.from(good);
    b[at]! ^= 0x01;
    return b;
  };
  const variants = {
    'RSA layer': flip(5),
    'key-wrap layer': flip(good.length - 3),
    'truncated': good.subarray(0, good.length - 8),
    'wrong material': wrapForImport(job.wrappingKey.spkiPem, randomBytes(31), 'rsa-aes-key-wrap-sha256'),
  };
  const bodies: string[] = [];
  for (const [what, blob] of Object.entries(variants)) {
    const r = await api.call(api.officer, 'post', `${api.base}/keys/import`, { importToken: job.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey: blob.toString('base64') });
    assert.equal(r.status, 400, what);
    const { instance: _instance, ...rest } = r.body;
    bodies.push(JSON.stringify(rest));
  }
  assert.equal(new Set(bodies).size, 1, `one answer for every layer: ${bodies[0]}`);
  assert.match(bodies[0]!, /import-failed/);
  const ok = await api.call(api.officer, 'post', `${api.base}/keys/import`, { importToken: job.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey: good.toString('base64') });
  assert.equal(ok.status, 201, ok.text);
  const audit = await inTenant(api.f.store.db, api.tenantId, (trx) => trx('audit_entries').where({ tenant_id: api.tenantId }).select('line'));
  assert.equal(audit.filter((a) => /"action":"key.import"/.test(a.line) && /"outcome":"failure"/.test(a.line)).length, 4, 'every failed attempt is audited');
});

test('an import job naming an existing key rotates it with the new material; old ciphertexts still open', async () => {
  const first = randomBytes(32);
  const { res } = await importKey(api, 'rotating', 'aes-256', first);
  const keyId = res.body.keyId;
  const old = await api.call(api.user, 'post', `${api.base}/keys/${keyId}/encrypt`, { plaintext: Buffer.from('before').toString('base64') });
  const { res: second } = await importKey(api, 'rotating', 'aes-256', randomBytes(32));
  assert.equal(second.status, 201, second.text);
  assert.equal(second.body.keyId, keyId);
  assert.equal(second.body.primaryVersion, 2);
  const dec = await api.call(api.user, 'post', `${api.base}/keys/${keyId}/decrypt`, { ciphertext: old.body.ciphertext });
  assert.equal(Buffer.from(dec.body.plaintext, 'base64').toString(), 'before');
  assert.equal(dec.body.keyVersion, 1);
  const wrongType = await api.call(api.officer, 'post', `${api.base}/import-jobs`, { keyName: 'rotating', keyType: 'hmac-sha256' });
  assert.equal(wrongType.status, 409);
});
