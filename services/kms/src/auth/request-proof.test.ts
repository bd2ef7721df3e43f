// Request proofs against the real store: a good proof authenticates its principal once; a
// replayed id, a stale or future issue time, another method, path or body, an unknown or
// revoked principal, a forged signature and malformed headers are each refused, saying why.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { publicJwk, jwkThumbprint, signJws, newKeyPair } from '@sealkeep/crypto';
import { requestProof } from '@sealkeep/sdk';
import { freshStore } from '@sealkeep/store/testing';
import type { Store } from '@sealkeep/store';
import { Problem } from '../http/problems.js';
import { insertPrincipal } from '../features/principals/store.js';
import { purgeExpiredProofs, verifyRequestProof, type ProofRequest } from './request-proof.js';

describe('request proofs', () => {
  let store: Store;
  const tenantId = randomUUID();
  const alice = { id: randomUUID(), keys: newKeyPair('ec', { namedCurve: 'P-256' }) };
  const bob = { id: randomUUID(), keys: newKeyPair('ed25519') };

  before(async () => {
    store = await freshStore();
    await store.db('tenants').insert({ tenant_id: tenantId, name: `acme-${tenantId}` });
    for (const [p, name, status] of [[alice, 'alice', 'active'], [bob, 'bob', 'revoked']] as const) {
      const jwk = publicJwk(p.keys.publicKey);
      await insertPrincipal(store.db, { principal_id: p.id, tenant_id: tenantId, name, role: 'tenant-admin', public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
      if (status === 'revoked') await store.db('principals').where({ principal_id: p.id }).update({ status });
    }
  });
  after(() => store.close());

  const body = Buffer.from(JSON.stringify({ name: 'db-master' }));
  const url = `/v1/tenants/${tenantId}/keys?dry=1`;
  const signed = (over: Partial<Parameters<typeof requestProof>[0]> = {}): ProofRequest => ({
    method: 'POST',
    url,
    rawBody: body,
    authorization: `Sealkeep-Proof ${requestProof({ key: alice.keys.privateKey, principalId: alice.id, method: 'POST', url, body, ...over })}`,
  });

  async function refusal(req: ProofRequest, now = new Date(nowSeconds * 1000)): Promise<string> {
    try {
      await verifyRequestProof(store.db, req, now);
    } catch (e) {
      assert.ok(e instanceof Problem && e.slug === 'unauthenticated', String(e));
      return e.detail ?? '';
    }
    assert.fail('accepted');
  }

  test('a good proof authenticates its principal, once', async () => {
    const req = signed();
    const keyThumbprint = jwkThumbprint(publicJwk(alice.keys.publicKey));
    assert.deepEqual(await verifyRequestProof(store.db, req), { id: alice.id, name: 'alice', role: 'tenant-admin', tenantId, keyThumbprint });
    assert.match(await refusal(req), /already used \(replay\)/);
  });

  test('no Authorization header is anonymous, not an error', async () => {
    assert.equal(await verifyRequestProof(store.db, { ...signed(), authorization: undefined }), null);
  });

  // The service's clock in these tests: fixed, so slow set-up cannot move the ±300 s window.
  const nowSeconds = Math.floor(Date.now() / 1000);
  const now = nowSeconds;
  const cases: Array<[string, () => ProofRequest, RegExp]> = [
    ['stale iat', () => signed({ iat: now - 301 }), /issue time/],
    ['future iat', () => signed({ iat: now + 301 }), /issue time/],
    ['another method', () => ({ ...signed(), method: 'PUT' }), /another method/],
    ['another path', () => ({ ...signed(), url: url.replace('keys', 'vms') }), /another path or query/],
    ['another query', () => ({ ...signed(), url: url.replace('dry=1', 'dry=0') }), /another path or query/],
    ['another body', () => ({ ...signed(), rawBody: Buffer.from('{"name":"other"}') }), /body does not match/],
    ['unknown principal', () => signed({ principalId: randomUUID() }), /unknown principal/],
    ['revoked principal', () => signed({ key: bob.keys.privateKey, principalId: bob.id }), /revoked/],
    ['signed by another key', () => signed({ key: newKeyPair('ec', { namedCurve: 'P-256' }).privateKey }), /signature does not verify/],
    ['wrong scheme', () => ({ ...signed(), authorization: 'Bearer abc' }), /Sealkeep-Proof/],
    ['not a JWS', () => ({ ...signed(), authorization: 'Sealkeep-Proof abc.def' }), /compact JWS/],
    ['short jti', () => signed({ jti: 'x' }), /jti/],
    [
      'wrong typ',
      () => ({ ...signed(), authorization: `Sealkeep-Proof ${signJws(alice.keys.privateKey, { typ: 'JWT', kid: alice.id }, { htm: 'POST', htu: url, bdy: '', iat: now, jti: 'a'.repeat(20) })}` }),
      /typ/,
    ],
  ];
  for (const [name, make, why] of cases) {
    test(`refused: ${name}`, async () => {
      assert.match(await refusal(make()), why);
    });
  }

  test('iat at the edges of the ±300 s window is accepted', async () => {
    const t = new Date(now * 1000);
    for (const iat of [now - 300, now + 300]) assert.ok(await verifyRequestProof(store.db, signed({ iat }), t));
  });

  test('the replay cache holds across a reconnect and forgets only proofs that could no longer be accepted', async () => {
    const req = signed();
    await verifyRequestProof(store.db, req);
    await purgeExpiredProofs(store.db, new Date());
    assert.match(await refusal(req, new Date()), /replay/, 'a purge keeps ids whose proofs are still acceptable');
    const purged = await purgeExpiredProofs(store.db, new Date(Date.now() + 10 * 60_000));
    assert.ok(purged >= 1);
  });
});
