// TPM2_CreatePrimary, Create, Load, LoadExternal, ReadPublic, Unseal, ObjectChangeAuth and
// CreateLoaded in process: deterministic primaries, round trips through private blobs, the
// attribute rules of Part 1 §27 / Part 3 §12.1 as a table, and tampered or mismatched private
// areas answering TPM_RC_INTEGRITY / TPM_RC_BINDING (never an internal failure).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { marshal } from '../../wire/codec.js';
import { TPM_ALG, TPM_RC, TPM_RH } from '../../wire/constants.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';
import { rcHandle, rcParam, rcSession } from '../../wire/rc.js';
import { pcrBitmap, TPMS_CREATION_DATA, TPMT_PUBLIC } from '../../wire/types/index.js';
import { password } from '../../client/auth.js';
import { digest } from '../../crypto/hash.js';
import { KdfaStream } from '../../crypto/kdf.js';
import { RSA_PRIME_LABEL } from '../../crypto/rsa-keygen.js';
import { createObject } from '../../engine/keys.js';
import { objectName } from '../../engine/names.js';
import { wrapPrivate } from '../../engine/private-area.js';
import { CreatePrimary } from '../hierarchy/index.js';
import { Create, CreateLoaded, Load, LoadExternal, ObjectChangeAuth, ReadPublic, Unseal } from './index.js';
import {
  AES128_CFB,
  aes,
  ecc,
  EMPTY,
  hex,
  KEY,
  keyedHash,
  NO_PCRS,
  primary,
  PW,
  rcOf,
  rsa,
  sealed,
  startedTpm,
  storageEcc,
  storageRsa,
  STORAGE,
} from './object-fixture.js';

const { tpm, client, internalErrors } = await startedTpm();
const parent = await primary(client);

const create = (template: TPMT_PUBLIC, opts: { data?: Buffer; userAuth?: Buffer; parentHandle?: number } = {}) =>
  client.call(
    Create,
    { parentHandle: opts.parentHandle ?? parent.objectHandle },
    { inSensitive: { userAuth: opts.userAuth ?? EMPTY, data: opts.data ?? EMPTY }, inPublic: template, outsideInfo: EMPTY, creationPCR: NO_PCRS },
    PW,
  );
const load = (inPrivate: Buffer, inPublic: TPMT_PUBLIC, parentHandle = parent.objectHandle) =>
  client.call(Load, { parentHandle }, { inPrivate, inPublic }, PW);

test('CreatePrimary: the same template gives the same key, every time (RSA and ECC)', async (t) => {
  // Draws from the RSA prime search's KDFa stream: a derived RSA key that comes from the cache draws none.
  const draws = t.mock.method(KdfaStream.prototype, 'draw');
  const primeDraws = () => draws.mock.calls.filter((c) => String((c.this as unknown as { label: Buffer }).label).startsWith(RSA_PRIME_LABEL)).length;
  for (const template of [storageRsa(), storageEcc()]) {
    const a = await primary(client, template);
    draws.mock.resetCalls();
    const b = await primary(client, template);
    if (template.type === TPM_ALG.RSA) assert.equal(primeDraws(), 0, 'the second derivation comes from the cache: no prime search');
    assert.deepEqual(b.outPublic.unique, a.outPublic.unique);
    assert.deepEqual(b.name, a.name);
    const other = await primary(client, template, TPM_RH.ENDORSEMENT);
    assert.notDeepEqual(other.outPublic.unique, a.outPublic.unique, 'another hierarchy, another seed');
  }
  draws.mock.resetCalls();
  const entropy = await primary(client, rsa(STORAGE, { symmetric: AES128_CFB, unique: Buffer.alloc(256, 1) }));
  assert.notDeepEqual(entropy.outPublic.unique, parent.outPublic.unique, 'unique in the template is entropy');
  assert.ok(primeDraws() > 0, 'a template not derived before searches for primes (what the cache spares)');
});

test('CreatePrimary: name is nameAlg || H(public); creation data names the hierarchy', async () => {
  const p = await client.call(CreatePrimary, { primaryHandle: TPM_RH.OWNER }, {
    inSensitive: { userAuth: EMPTY, data: EMPTY },
    inPublic: storageRsa(),
    outsideInfo: Buffer.from('outside'),
    creationPCR: [{ hash: TPM_ALG.SHA256, pcrSelect: pcrBitmap([0, 1], 3) }],
  }, PW);
  const expectedName = Buffer.concat([Buffer.from([0, 0x0b]), createHash('sha256').update(marshal(TPMT_PUBLIC, p.outPublic)).digest()]);
  assert.deepEqual(p.name, expectedName);
  assert.deepEqual(p.creationData.parentName, Buffer.from([0x40, 0, 0, 1]));
  assert.equal(p.creationData.parentNameAlg, TPM_ALG.NULL);
  assert.deepEqual(p.creationData.outsideInfo, Buffer.from('outside'));
  assert.deepEqual(p.creationData.pcrDigest, digest(TPM_ALG.SHA256, Buffer.alloc(32), Buffer.alloc(32)));
  assert.equal(p.creationData.locality, 1);
  assert.deepEqual(p.creationHash, digest(TPM_ALG.SHA256, marshal(TPMS_CREATION_DATA, p.creationData)));
  assert.equal(p.creationTicket.hierarchy, TPM_RH.OWNER);
  assert.equal(p.creationTicket.digest.length, 32);
  const rp = await client.call(ReadPublic, { objectHandle: p.objectHandle }, {});
  assert.deepEqual(rp.name, p.name);
  assert.deepEqual(rp.qualifiedName, Buffer.concat([Buffer.from([0, 0x0b]), digest(TPM_ALG.SHA256, Buffer.from([0x40, 0, 0, 1]), p.name)]));
});

test('Create + Load: RSA, ECC, AES and HMAC keys load back with the same Name', async () => {
  const hmac = keyedHash(KEY | A.sign, { scheme: TPM_ALG.HMAC, details: { hashAlg: TPM_ALG.SHA256 } });
  for (const template of [rsa(KEY | A.sign | A.decrypt), ecc(KEY | A.sign), aes(KEY | A.decrypt | A.sign), hmac, storageRsa()]) {
    const c = await create(template);
    assert.equal(c.creationData.parentNameAlg, TPM_ALG.SHA256);
    assert.deepEqual(c.creationData.parentName, parent.name);
    const l = await load(c.outPrivate, c.outPublic);
    assert.deepEqual(l.name, objectName(c.outPublic));
    const rp = await client.call(ReadPublic, { objectHandle: l.objectHandle }, {});
    assert.deepEqual(rp.outPublic, c.outPublic);
  }
});

test('sealed data: Create with data, Load, Unseal (with its password)', async () => {
  const secret = Buffer.from('the launch codes');
  const c = await create(sealed(), { data: secret, userAuth: Buffer.from('pw') });
  const l = await load(c.outPrivate, c.outPublic);
  const out = await client.call(Unseal, { itemHandle: l.objectHandle }, {}, { auth: [password('pw')] });
  assert.deepEqual(out.outData, secret);
  assert.equal(await rcOf(client.call(Unseal, { itemHandle: l.objectHandle }, {}, { auth: [password('nope')] })), rcSession(TPM_RC.AUTH_FAIL, 1));
});

test('Unseal refuses keys that are not sealed data', async () => {
  const c = await create(rsa(KEY | A.sign));
  const l = await load(c.outPrivate, c.outPublic);
  assert.equal(await rcOf(client.call(Unseal, { itemHandle: l.objectHandle }, {}, PW)), rcHandle(TPM_RC.TYPE, 1));
  const h = await create(keyedHash(KEY | A.sign, { scheme: TPM_ALG.HMAC, details: { hashAlg: TPM_ALG.SHA256 } }));
  const lh = await load(h.outPrivate, h.outPublic);
  assert.equal(await rcOf(client.call(Unseal, { itemHandle: lh.objectHandle }, {}, PW)), rcHandle(TPM_RC.ATTRIBUTES, 1));
});

// Part 1 §27 / Part 3 §12.1 attribute and scheme rules, as the reference answers them (template = parameter 2).
const RSASSA = { scheme: TPM_ALG.RSASSA, details: { hashAlg: TPM_ALG.SHA256 } };
const OAEP = { scheme: TPM_ALG.OAEP, details: { hashAlg: TPM_ALG.SHA256 } };
const P2 = (rc: number) => rcParam(rc, 2);
const createCases: Array<[string, TPMT_PUBLIC, number, Buffer?]> = [
  ['fixedTPM without fixedParent', rsa((KEY & ~A.fixedParent) | A.sign), P2(TPM_RC.ATTRIBUTES)],
  ['fixedParent without fixedTPM', rsa((KEY & ~A.fixedTPM) | A.sign), P2(TPM_RC.ATTRIBUTES)],
  ['sign and decrypt both clear (RSA)', rsa(KEY), P2(TPM_RC.ATTRIBUTES)],
  ['restricted with sign and decrypt', rsa(KEY | A.restricted | A.sign | A.decrypt), P2(TPM_RC.ATTRIBUTES)],
  ['fixedTPM with encryptedDuplication', rsa(KEY | A.sign | A.encryptedDuplication), P2(TPM_RC.ATTRIBUTES)],
  ['asymmetric key without sensitiveDataOrigin', rsa((KEY & ~A.sensitiveDataOrigin) | A.sign), P2(TPM_RC.ATTRIBUTES), Buffer.from('k')],
  ['sensitiveDataOrigin clear and no data', rsa((KEY & ~A.sensitiveDataOrigin) | A.sign), P2(TPM_RC.ATTRIBUTES)],
  ['sensitiveDataOrigin set and data supplied', aes(KEY | A.decrypt), P2(TPM_RC.ATTRIBUTES), Buffer.alloc(16, 1)],
  ['sealed data object with sensitiveDataOrigin', sealed(KEY), P2(TPM_RC.ATTRIBUTES)],
  ['restricted symmetric key with supplied data', aes((KEY & ~A.sensitiveDataOrigin) | A.restricted | A.decrypt), P2(TPM_RC.ATTRIBUTES), Buffer.alloc(16, 1)],
  ['storage key without a symmetric definition', rsa(STORAGE), P2(TPM_RC.SYMMETRIC)],
  ['storage key with a scheme', rsa(STORAGE, { symmetric: AES128_CFB, scheme: OAEP }), P2(TPM_RC.SCHEME)],
  ['non-parent with a symmetric definition', rsa(KEY | A.sign, { symmetric: AES128_CFB }), P2(TPM_RC.SYMMETRIC)],
  ['restricted signing key without a scheme', rsa(KEY | A.sign | A.restricted), P2(TPM_RC.SCHEME)],
  ['signing key with a decryption scheme', rsa(KEY | A.sign, { scheme: OAEP }), P2(TPM_RC.SCHEME)],
  ['decryption key with a signing scheme', rsa(KEY | A.decrypt, { scheme: RSASSA }), P2(TPM_RC.SCHEME)],
  ['sign+decrypt key with a scheme', rsa(KEY | A.sign | A.decrypt, { scheme: RSASSA }), P2(TPM_RC.SCHEME)],
  ['ECC key with a KDF', ecc(KEY | A.sign, { kdf: { scheme: TPM_ALG.MGF1, details: { hashAlg: TPM_ALG.SHA256 } } }), P2(TPM_RC.KDF)],
  ['HMAC key without the HMAC scheme', keyedHash(KEY | A.sign), P2(TPM_RC.SCHEME)],
  ['sealed object with a scheme', keyedHash(A.fixedTPM | A.fixedParent | A.userWithAuth, { scheme: TPM_ALG.HMAC, details: { hashAlg: TPM_ALG.SHA256 } }), P2(TPM_RC.SCHEME), Buffer.from('x')],
  ['authPolicy not a nameAlg digest', rsa(KEY | A.sign, { authPolicy: Buffer.alloc(20) }), P2(TPM_RC.SIZE)],
  ['fixedParent storage key with another nameAlg', rsa(STORAGE, { symmetric: AES128_CFB, nameAlg: TPM_ALG.SHA1 }), P2(TPM_RC.HASH)],
  ['fixedParent storage key with another symmetric', rsa(STORAGE, { symmetric: { algorithm: TPM_ALG.AES, keyBits: 256, mode: TPM_ALG.CFB } }), P2(TPM_RC.SYMMETRIC)],
  ['good: sign+decrypt RSA', rsa(KEY | A.sign | A.decrypt), 0],
  ['good: restricted RSASSA signer', rsa(KEY | A.sign | A.restricted, { scheme: RSASSA }), 0],
  ['good: sealed object', sealed(), 0, Buffer.from('x')],
  ['good: duplicable key (fixedTPM and fixedParent clear)', rsa((KEY & ~(A.fixedTPM | A.fixedParent)) | A.sign), 0],
];
for (const [name, template, rc, data] of createCases) {
  test(`Create: ${name} → ${hex(rc)}`, async () => assert.equal(await rcOf(create(template, { data })), rc));
}

test('Create: userAuth longer than the nameAlg digest → TPM_RC_SIZE (parameter 1); non-parent → TPM_RC_TYPE (handle 1)', async () => {
  assert.equal(await rcOf(create(rsa(KEY | A.sign), { userAuth: Buffer.alloc(33, 1) })), rcParam(TPM_RC.SIZE, 1));
  const signer = await create(rsa(KEY | A.sign));
  const l = await load(signer.outPrivate, signer.outPublic);
  assert.equal(await rcOf(create(rsa(KEY | A.sign), { parentHandle: l.objectHandle })), rcHandle(TPM_RC.TYPE, 1));
});

test('CreatePrimary applies the same rules, and sensitiveDataOrigin may come with data for a primary', async () => {
  assert.equal(await rcOf(primary(client, rsa(STORAGE))), rcParam(TPM_RC.SYMMETRIC, 2));
  assert.equal(await rcOf(primary(client, rsa((KEY & ~A.fixedTPM) | A.sign))), rcParam(TPM_RC.ATTRIBUTES, 2));
});

test('Load: every tampered byte of a private blob is TPM_RC_INTEGRITY, never a failure', async () => {
  const c = await create(rsa(KEY | A.sign | A.decrypt));
  for (let i = 0; i < c.outPrivate.length; i += 7) {
    const bad = Buffer.from(c.outPrivate);
    bad[i]! ^= 0x5a;
    const rc = await rcOf(load(bad, c.outPublic));
    assert.equal(rc, rcParam(TPM_RC.INTEGRITY, 1), `byte ${i}: ${hex(rc)}`);
  }
  assert.equal(await rcOf(load(c.outPrivate.subarray(0, 10), c.outPublic)), rcParam(TPM_RC.INTEGRITY, 1));
  assert.equal(await rcOf(load(EMPTY, c.outPublic)), rcParam(TPM_RC.SIZE, 1));
  // Another key's public area: the Name is in the HMAC.
  const other = await create(rsa(KEY | A.sign | A.decrypt));
  assert.equal(await rcOf(load(c.outPrivate, other.outPublic)), rcParam(TPM_RC.INTEGRITY, 1));
  // Under another parent.
  const parent2 = await primary(client, storageEcc());
  assert.equal(await rcOf(load(c.outPrivate, c.outPublic, parent2.objectHandle)), rcParam(TPM_RC.INTEGRITY, 1));
  assert.deepEqual(internalErrors, []);
});

test('Load: a sensitive area that does not belong to its public area is TPM_RC_BINDING', async () => {
  const parentObj = tpm.objects.get(parent.objectHandle);
  const a = createObject(tpm, { template: rsa(KEY | A.sign), sensitive: { userAuth: EMPTY, data: EMPTY }, parent: parentObj, hierarchy: TPM_RH.OWNER });
  const b = createObject(tpm, { template: rsa(KEY | A.sign), sensitive: { userAuth: EMPTY, data: EMPTY }, parent: parentObj, hierarchy: TPM_RH.OWNER });
  const forged = wrapPrivate(tpm, parentObj, { ...a, sensitive: b.sensitive });
  assert.equal(await rcOf(load(forged, a.public)), TPM_RC.BINDING);
  const s = createObject(tpm, { template: sealed(), sensitive: { userAuth: EMPTY, data: Buffer.from('x') }, parent: parentObj, hierarchy: TPM_RH.OWNER });
  const wrongData = wrapPrivate(tpm, parentObj, { ...s, sensitive: { ...s.sensitive!, sensitive: Buffer.from('y') } });
  assert.equal(await rcOf(load(wrongData, s.public)), TPM_RC.BINDING);
});

test('ObjectChangeAuth: the new private area carries the new authValue', async () => {
  const c = await create(sealed(), { data: Buffer.from('s'), userAuth: Buffer.from('old') });
  const l = await load(c.outPrivate, c.outPublic);
  const changed = await client.call(ObjectChangeAuth, { objectHandle: l.objectHandle, parentHandle: parent.objectHandle }, { newAuth: Buffer.from('new') }, { auth: [password('old')] });
  const l2 = await load(changed.outPrivate, c.outPublic);
  assert.deepEqual((await client.call(Unseal, { itemHandle: l2.objectHandle }, {}, { auth: [password('new')] })).outData, Buffer.from('s'));
  assert.notEqual(await rcOf(client.call(Unseal, { itemHandle: l2.objectHandle }, {}, { auth: [password('old')] })), 0);
  // The loaded object keeps its old authValue.
  assert.deepEqual((await client.call(Unseal, { itemHandle: l.objectHandle }, {}, { auth: [password('old')] })).outData, Buffer.from('s'));
  // The wrong parent, or a newAuth too long.
  const other = await create(storageRsa());
  const otherParent = await load(other.outPrivate, other.outPublic);
  const call = (parentHandle: number, newAuth: Buffer) =>
    client.call(ObjectChangeAuth, { objectHandle: l.objectHandle, parentHandle }, { newAuth }, { auth: [password('old')] });
  assert.equal(await rcOf(call(otherParent.objectHandle, Buffer.from('x'))), rcHandle(TPM_RC.TYPE, 2));
  assert.equal(await rcOf(call(parent.objectHandle, Buffer.alloc(33, 1))), rcParam(TPM_RC.SIZE, 1));
});

test('LoadExternal: a public key alone anywhere; a key pair only in the null hierarchy and not fixed', async () => {
  const c = await create(rsa(KEY | A.sign));
  const pub = await client.call(LoadExternal, {}, { inPrivate: null, inPublic: c.outPublic, hierarchy: TPM_RH.OWNER });
  assert.deepEqual(pub.name, objectName(c.outPublic));
  const pair = createObject(tpm, { template: rsa(A.sign | A.userWithAuth | A.sensitiveDataOrigin), sensitive: { userAuth: EMPTY, data: EMPTY }, parent: null, hierarchy: TPM_RH.NULL });
  const ext = (hierarchy: number, inPublic = pair.public) => client.call(LoadExternal, {}, { inPrivate: pair.sensitive, inPublic, hierarchy });
  const ok = await ext(TPM_RH.NULL);
  assert.deepEqual(ok.name, pair.name);
  assert.equal(await rcOf(ext(TPM_RH.OWNER)), rcParam(TPM_RC.HIERARCHY, 3));
  assert.equal(await rcOf(ext(TPM_RH.NULL, { ...pair.public, objectAttributes: pair.public.objectAttributes | A.fixedTPM | A.fixedParent })), rcParam(TPM_RC.ATTRIBUTES, 2));
  const other = createObject(tpm, { template: pair.public, sensitive: { userAuth: EMPTY, data: EMPTY }, parent: null, hierarchy: TPM_RH.NULL });
  assert.equal(await rcOf(client.call(LoadExternal, {}, { inPrivate: other.sensitive, inPublic: pair.public, hierarchy: TPM_RH.NULL })), TPM_RC.BINDING);
  const badModulus = { ...c.outPublic, unique: Buffer.alloc(100, 0xff) };
  assert.equal(await rcOf(client.call(LoadExternal, {}, { inPrivate: null, inPublic: badModulus, hierarchy: TPM_RH.OWNER })), rcParam(TPM_RC.KEY, 2));
});

test('CreateLoaded: an ordinary key under a parent, or a primary under a hierarchy', async () => {
  const call = (parentHandle: number, template: TPMT_PUBLIC) =>
    client.call(CreateLoaded, { parentHandle }, { inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic: marshal(TPMT_PUBLIC, template) }, PW);
  const ordinary = await call(parent.objectHandle, rsa(KEY | A.sign));
  assert.ok(ordinary.outPrivate.length > 0);
  const again = await load(ordinary.outPrivate, ordinary.outPublic);
  assert.deepEqual(again.name, ordinary.name);
  const prim = await call(TPM_RH.OWNER, storageRsa());
  assert.equal(prim.outPrivate.length, 0);
  assert.deepEqual(prim.outPublic.unique, parent.outPublic.unique);
  assert.equal(await rcOf(client.call(CreateLoaded, { parentHandle: TPM_RH.OWNER }, { inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic: Buffer.from([0, 1]) }, PW)), rcParam(TPM_RC.INSUFFICIENT, 2));
});
