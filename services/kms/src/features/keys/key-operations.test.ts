// Key use through the API: AES-GCM bound to its key, version and AAD; data-key wrap; signing
// schemes; HMAC; batches that answer item by item; operations a key's type does not serve; and
// each request's audit entry, which names the operation and counts, never an input or result.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createHmac, randomBytes, verify } from 'node:crypto';
import { inTenant } from '@sealkeep/store';
import { keysApi, type KeysApi } from './keys-api.fixture.js';

let api: KeysApi;
const ids: Record<string, string> = {};
before(async () => {
  api = await keysApi();
  for (const [name, type] of [['aes', 'aes-256'], ['aes2', 'aes-256'], ['rsa', 'rsa-2048'], ['hmac', 'hmac-sha256'], ['xts', 'xts-aes-256']]) {
    const r = await api.call(api.officer, 'post', `${api.base}/keys`, { name, type });
    assert.equal(r.status, 201, r.text);
    ids[name!] = r.body.keyId;
  }
});
after(() => api.close());

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
const op = (key: string, name: string, body: unknown) => api.call(api.user, 'post', `${api.base}/keys/${ids[key]}/${name}`, body);

test('a ciphertext opens only under its key, with its AAD, unaltered', async () => {
  const plaintext = randomBytes(1000);
  const enc = await op('aes', 'encrypt', { plaintext: b64(plaintext), aad: b64('vm:42') });
  const ct = Buffer.from(enc.body.ciphertext, 'base64');
  assert.equal(ct.subarray(0, 3).toString('hex'), '534b01', 'SK, format 1');
  assert.equal(ct.readUInt32BE(3), 1, 'the version inside the header');
  assert.ok(!ct.includes(plaintext.subarray(0, 32)));
  const opened = await op('aes', 'decrypt', { ciphertext: enc.body.ciphertext, aad: b64('vm:42') });
  assert.ok(Buffer.from(opened.body.plaintext, 'base64').equals(plaintext));

  const altered = Buffer.from(ct);
  altered[20]! ^= 1;
  const refusals = [
    await op('aes', 'decrypt', { ciphertext: enc.body.ciphertext, aad: b64('vm:43') }),
    await op('aes', 'decrypt', { ciphertext: enc.body.ciphertext }),
    await op('aes', 'decrypt', { ciphertext: b64(altered), aad: b64('vm:42') }),
    await op('aes2', 'decrypt', { ciphertext: enc.body.ciphertext, aad: b64('vm:42') }),
    await op('aes', 'decrypt', { ciphertext: b64(randomBytes(10)) }),
  ];
  for (const r of refusals) {
    assert.equal(r.status, 400);
    assert.equal(r.body.type, 'https://sealkeep.dev/problems/decryption-failed');
  }
});

test('data keys wrap and unwrap; a wrapped key from another key does not unwrap', async () => {
  const dataKey = randomBytes(64);
  const w = await op('aes', 'wrap', { key: b64(dataKey) });
  assert.equal(w.status, 200, w.text);
  assert.ok(Buffer.from((await op('aes', 'unwrap', { wrappedKey: w.body.wrappedKey })).body.key, 'base64').equals(dataKey));
  assert.equal((await op('aes2', 'unwrap', { wrappedKey: w.body.wrappedKey })).status, 400);
  assert.equal((await op('aes', 'wrap', { key: b64(randomBytes(8)) })).status, 400, 'a data key is at least 16 bytes');
});

test('RSA signs with PKCS#1 v1.5 or PSS, and the service verifies either', async () => {
  const key = (await api.call(api.user, 'get', `${api.base}/keys/${ids.rsa}`)).body.versions[0].publicKeyPem;
  const message = b64('contract');
  for (const algorithm of ['rsassa-pkcs1-v1_5', 'rsa-pss'] as const) {
    const s = await op('rsa', 'sign', { message, algorithm });
    assert.equal(s.status, 200, s.text);
    const padding = algorithm === 'rsa-pss' ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
    assert.ok(verify('sha256', Buffer.from('contract'), { key, padding, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, Buffer.from(s.body.signature, 'base64')), algorithm);
    assert.equal((await op('rsa', 'verify', { message, signature: s.body.signature, keyVersion: 1, algorithm })).body.valid, true);
    assert.equal((await op('rsa', 'verify', { message: b64('forged'), signature: s.body.signature, keyVersion: 1, algorithm })).body.valid, false);
  }
  assert.equal((await op('rsa', 'sign', { message, algorithm: 'ecdsa' })).body.type, 'https://sealkeep.dev/problems/operation-not-supported');
});

test('HMAC in the TPM: verify accepts the tag and refuses another', async () => {
  const m = await op('hmac', 'hmac', { message: b64('m') });
  assert.equal((await op('hmac', 'hmac-verify', { message: b64('m'), mac: m.body.mac, keyVersion: 1 })).body.valid, true);
  const wrong = createHmac('sha256', randomBytes(32)).update('m').digest('base64');
  assert.equal((await op('hmac', 'hmac-verify', { message: b64('m'), mac: wrong, keyVersion: 1 })).body.valid, false);
});

test('a batch answers each item; one bad item does not fail the others', async () => {
  const items = Array.from({ length: 50 }, (_, i) => ({ plaintext: b64(`item ${i}`) }));
  const enc = await api.call(api.user, 'post', `${api.base}/keys/${ids.aes}/batch/encrypt`, { items });
  assert.equal(enc.status, 200, enc.text);
  assert.equal(enc.body.results.length, 50);
  const cts = enc.body.results.map((r: { ciphertext: string }) => ({ ciphertext: r.ciphertext }));
  cts[7] = { ciphertext: b64(randomBytes(40)) };
  const dec = await api.call(api.user, 'post', `${api.base}/keys/${ids.aes}/batch/decrypt`, { items: cts });
  assert.equal(dec.status, 200);
  assert.equal(dec.body.results[7].error.type, 'https://sealkeep.dev/problems/decryption-failed');
  assert.equal(Buffer.from(dec.body.results[8].plaintext, 'base64').toString(), 'item 8');
  assert.equal((await api.call(api.user, 'post', `${api.base}/keys/${ids.aes}/batch/encrypt`, { items: [] })).status, 400);
});

test("operations a type does not serve, and keys of other tenants, are refused; the audit names counts, not data", async () => {
  const xts = await op('xts', 'encrypt', { plaintext: b64('x') });
  assert.equal(xts.status, 400);
  assert.equal(xts.body.type, 'https://sealkeep.dev/problems/operation-not-supported', 'XTS keys belong to the data plane');
  assert.equal((await op('hmac', 'encrypt', { plaintext: b64('x') })).status, 400);
  assert.equal((await api.call(api.officer, 'post', `${api.base}/keys/${ids.aes}/encrypt`, { plaintext: b64('x') })).status, 403, 'the officer manages keys; users use them');
  const other = await api.f.newTenant();
  const theirUser = await api.f.addPrincipal(other.tenantId, 'mallory', 'tenant-user');
  const cross = await api.f.call(api.app, theirUser, 'post', `/v1/tenants/${other.tenantId}/keys/${ids.aes}/encrypt`, { plaintext: b64('x') });
  assert.equal(cross.status, 404, "another tenant's key id is not found in this tenant");

  const secret = randomBytes(24);
  await op('aes', 'encrypt', { plaintext: b64(secret), aad: b64('audit-aad') });
  const lines = (await inTenant(api.f.store.db, api.tenantId, (trx) => trx('audit_entries').where({ tenant_id: api.tenantId }).select('line'))).map((r) => r.line as string);
  const last = JSON.parse(lines.filter((l) => l.includes('"key.encrypt"')).at(-1)!);
  assert.deepEqual(last.details, { items: 1, failed: 0, versions: '1' });
  for (const l of lines) assert.ok(!l.includes(b64(secret)) && !l.includes(b64('audit-aad')));
});
