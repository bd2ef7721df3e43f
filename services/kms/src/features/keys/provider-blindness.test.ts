// The provider cannot read a tenant's key. Known keys are imported (wrapped locally), rotated
// and used through the API with the service's real logger writing; then everything the provider
// holds is searched for the key bytes as raw bytes, hex, base64 and base64url: every row of
// every table, every file under the service's data directory (the TPM's state, the embedded
// store's files), PostgreSQL's own data directory when this process can read it, the logs and
// the audit entries. None may be found.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { asSystem, openStore, type Store } from '@sealkeep/store';
import { backendUnderTest, freshStore } from '@sealkeep/store/testing';
import { createLogger } from '../../logging.js';
import { buildListeners } from '../../server.js';
import request from 'supertest';
import { authorizationHeader } from '@sealkeep/sdk';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { insertPrincipal } from '../principals/store.js';
import { keysContext } from './keys-context.js';
import { openTestEngine } from './keys.fixture.js';
import { importKey, type KeysApi } from './keys-api.fixture.js';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function encodings(secret: Buffer): Buffer[] {
  return [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('hex').toUpperCase()), Buffer.from(secret.toString('base64')), Buffer.from(secret.toString('base64url'))];
}

function* filesUnder(dir: string): Generator<string> {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    try {
      const s = statSync(p);
      if (s.isDirectory()) yield* filesUnder(p);
      else if (s.isFile()) yield p;
    } catch {
      // a file another process removed meanwhile
    }
  }
}

/** Every row of every table in the public schema, each value as its bytes. */
async function dumpTables(store: Store): Promise<Buffer[]> {
  return asSystem(store.db, 'test: dump every table as a provider with database access would', async (trx) => {
    const tables = (await trx('information_schema.tables').where({ table_schema: 'public', table_type: 'BASE TABLE' }).select('table_name')) as Array<{ table_name: string }>;
    const out: Buffer[] = [];
    for (const { table_name } of tables) {
      for (const row of (await trx(table_name).select('*')) as Array<Record<string, unknown>>) {
        for (const v of Object.values(row)) out.push(Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v) ?? ''));
      }
    }
    return out;
  });
}

test('no table, file, log line or audit entry holds a tenant key in any encoding', { timeout: 300_000 }, async () => {
  // The embedded store on disk in the service's data directory, as `npm start` keeps it.
  const t = await openTestEngine();
  cleanups.push(() => t.close());
  let store: Store;
  if (backendUnderTest() === 'pglite') {
    store = await openStore({ kind: 'pglite', dataDir: path.join(t.dataDir, 'pgdata') });
    await store.migrateLatest();
  } else {
    store = await freshStore();
  }
  cleanups.push(() => store.close());
  const logged: string[] = [];
  const log = createLogger('debug', new Writable({ write: (chunk, _enc, done) => (logged.push(String(chunk)), done()) }));
  const keys = await keysContext(t.host, t.engine, null);
  const [app] = buildListeners({ store, keys, onRequest: (e) => log.info(e, 'request'), onInternalError: (err, requestId) => log.error({ err, requestId }, 'internal error') }, [['tenant']]);
  const tenantId = crypto.randomUUID();
  await asSystem(store.db, 'test set-up', (trx) => trx('tenants').insert({ tenant_id: tenantId, name: `blind-${tenantId}` }));
  const addPrincipal = async (name: string, role: 'tenant-admin' | 'tenant-user') => {
    const pair = newKeyPair('ed25519');
    const jwk = publicJwk(pair.publicKey);
    const id = crypto.randomUUID();
    await insertPrincipal(store.db, { principal_id: id, tenant_id: tenantId, name, role, public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
    return { id, key: pair.privateKey };
  };
  const officer = await addPrincipal('alice', 'tenant-admin');
  const user = await addPrincipal('bob', 'tenant-user');
  const call = (who: typeof officer, method: 'get' | 'post', url: string, body?: unknown) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(app!)[method](url).set('authorization', authorizationHeader({ key: who.key, principalId: who.id, method, url, ...(payload ? { body: payload } : {}) }));
    return payload ? req.set('content-type', 'application/json').send(payload) : req;
  };
  // importKey needs only these members of the key API fixture.
  const api = { tenantId, officer, user, base: `/v1/tenants/${tenantId}`, call } as unknown as KeysApi;

  const aes = randomBytes(32);
  const hmac = randomBytes(48);
  const ecPair = newKeyPair('ec', { namedCurve: 'P-256' });
  const ecPkcs8 = ecPair.privateKey.export({ type: 'pkcs8', format: 'der' });
  const ecScalar = Buffer.from(ecPair.privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const secrets = { aes, hmac, ecPkcs8, ecScalar };

  const imported = await importKey(api, 'blind-aes', 'aes-256', aes);
  assert.equal(imported.res.status, 201, imported.res.text);
  const aesId = imported.res.body.keyId;
  const { res: hmacRes } = await importKey(api, 'blind-hmac', 'hmac-sha256', hmac);
  const { res: ecRes } = await importKey(api, 'blind-ec', 'ec-p256', ecPkcs8);
  const before = await api.call(user, 'post', `${api.base}/keys/${aesId}/encrypt`, { plaintext: randomBytes(100).toString('base64'), aad: Buffer.from('vm-7').toString('base64') });
  assert.equal((await api.call(officer, 'post', `${api.base}/keys/${aesId}/rotate`)).status, 200);
  const afterRotate = await api.call(user, 'post', `${api.base}/keys/${aesId}/encrypt`, { plaintext: randomBytes(100).toString('base64') });
  assert.equal(afterRotate.body.keyVersion, 2);
  assert.equal((await api.call(user, 'post', `${api.base}/keys/${aesId}/decrypt`, { ciphertext: before.body.ciphertext, aad: Buffer.from('vm-7').toString('base64') })).status, 200);
  assert.equal((await api.call(user, 'post', `${api.base}/keys/${aesId}/batch/wrap`, { items: [{ key: randomBytes(32).toString('base64') }] })).status, 200);
  assert.equal((await api.call(user, 'post', `${api.base}/keys/${hmacRes.body.keyId}/hmac`, { message: 'aGVsbG8=' })).status, 200);
  assert.equal((await api.call(user, 'post', `${api.base}/keys/${ecRes.body.keyId}/sign`, { message: 'aGVsbG8=' })).status, 200);
  assert.equal((await api.call(user, 'post', `${api.base}/keys/${aesId}/decrypt`, { ciphertext: Buffer.alloc(60, 1).toString('base64') })).status, 400, 'a failure path logs too');
  await t.host.close().catch(() => {}); // the TPM writes its state file as the service stops

  const haystacks: Array<[string, Buffer]> = [];
  for (const b of await dumpTables(store)) haystacks.push(['a table row', b]);
  for (const file of filesUnder(t.dataDir)) haystacks.push([file, readFileSync(file)]);
  if (backendUnderTest() === 'postgres') {
    await store.db.raw('checkpoint').catch(() => {});
    const dir = (await store.db.raw('show data_directory').catch(() => null))?.rows?.[0]?.data_directory as string | undefined;
    if (dir && existsSync(dir)) for (const file of filesUnder(dir)) haystacks.push([file, (() => { try { return readFileSync(file); } catch { return Buffer.alloc(0); } })()]);
  }
  haystacks.push(['the log', Buffer.from(logged.join(''))]);
  assert.ok(logged.length >= 8, 'the logger wrote a line per request');
  assert.ok(haystacks.length > 20);

  assert.deepEqual(findSecrets(secrets, haystacks), []);

  // The search finds what is there: a file planted in the data directory with the key in hex is caught.
  const planted = path.join(t.dataDir, 'planted.txt');
  writeFileSync(planted, `debug dump: ${hmac.toString('hex')}\n`);
  assert.deepEqual(findSecrets(secrets, [...filesUnder(t.dataDir)].map((file) => [file, readFileSync(file)] as [string, Buffer])), [`hmac in ${planted}`]);
});

function findSecrets(secrets: Record<string, Buffer>, haystacks: ReadonlyArray<[string, Buffer]>): string[] {
  const found = new Set<string>();
  for (const [name, secret] of Object.entries(secrets)) {
    for (const needle of encodings(secret)) {
      for (const [where, hay] of haystacks) if (hay.includes(needle)) found.add(`${name} in ${where}`);
    }
  }
  return [...found];
}
