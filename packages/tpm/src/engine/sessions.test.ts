// Authorization sessions in process (Part 1 §19, Part 3 §11.1): StartAuthSession's checks, HMAC
// sessions unbound, bound and salted, the password rules (trailing zeros), which sessions may
// appear where, continueSession, and dictionary-attack counting up to TPM_RC_LOCKOUT and back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TPM_ALG, TPM_RC, TPM_RH, TPM_SE } from '../wire/constants.js';
import { rcHandle, rcParam, rcSession } from '../wire/rc.js';
import { CONTINUE_SESSION, DECRYPT, ENCRYPT, password, type CommandAuthorization } from '../client/auth.js';
import { TpmClient } from '../client/client.js';
import { createSeed } from '../crypto/secret-sharing.js';
import { GetRandom } from '../commands/random/index.js';
import { CreatePrimary, HierarchyChangeAuth } from '../commands/hierarchy/index.js';
import { Create, Load, Unseal } from '../commands/object/index.js';
import { DictionaryAttackLockReset } from '../commands/dictionary-attack/index.js';
import { StartAuthSession } from '../commands/session/index.js';
import { sharingRecipientOf } from '../commands/asymmetric/key-material.js';
import { EMPTY, NO_PCRS, NULL_SYM, primary, rcOf, sealed, startedTpm, storageRsa, storageEcc } from '../commands/object/object-fixture.js';
import { sealTo, startSession } from '../commands/session/session-fixture.js';
import { TPMA_OBJECT as A } from '../wire/attribute-bits.js';

const u32 = (v: number) => Buffer.from(v.toString(16).padStart(8, '0'), 'hex');
const OWNER_NAME = u32(TPM_RH.OWNER);

const { tpm, client, internalErrors } = await startedTpm();
const srk = await primary(client);

function createPrimaryWith(c: TpmClient, auth: CommandAuthorization, ownerAuth: Buffer = EMPTY) {
  return c.call(
    CreatePrimary,
    { primaryHandle: TPM_RH.OWNER },
    { inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic: storageRsa(), outsideInfo: EMPTY, creationPCR: NO_PCRS },
    { auth: [auth], entityAuth: [ownerAuth], names: [OWNER_NAME] },
  );
}

const start = (params: Partial<{ tpmKey: number; bind: number; nonceCaller: Buffer; encryptedSalt: Buffer; sessionType: number; symmetric: object; authHash: number }>) =>
  client.call(
    StartAuthSession,
    { tpmKey: params.tpmKey ?? TPM_RH.NULL, bind: params.bind ?? TPM_RH.NULL },
    {
      nonceCaller: params.nonceCaller ?? Buffer.alloc(32, 1),
      encryptedSalt: params.encryptedSalt ?? EMPTY,
      sessionType: params.sessionType ?? TPM_SE.HMAC,
      symmetric: (params.symmetric ?? NULL_SYM) as never,
      authHash: params.authHash ?? TPM_ALG.SHA256,
    },
  );

test('StartAuthSession checks its arguments as the reference TPM does', async () => {
  const table: Array<[string, Parameters<typeof start>[0], number]> = [
    ['nonceCaller shorter than 16', { nonceCaller: Buffer.alloc(15) }, rcParam(TPM_RC.SIZE, 1)],
    ['nonceCaller longer than the digest', { nonceCaller: Buffer.alloc(21), authHash: TPM_ALG.SHA1 }, rcParam(TPM_RC.SIZE, 1)],
    ['a salt without tpmKey', { encryptedSalt: Buffer.alloc(8) }, rcParam(TPM_RC.VALUE, 2)],
    ['AES in a mode other than CFB', { symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CBC } }, rcParam(TPM_RC.MODE, 4)],
    ['a bad session type', { sessionType: 2 }, rcParam(TPM_RC.VALUE, 3)],
    ['tpmKey with an empty salt', { tpmKey: srk.objectHandle }, rcParam(TPM_RC.VALUE, 2)],
    ['tpmKey with a salt it cannot decrypt', { tpmKey: srk.objectHandle, encryptedSalt: Buffer.alloc(256, 3) }, rcParam(TPM_RC.VALUE, 2)],
  ];
  for (const [what, params, rc] of table) assert.equal(await rcOf(start(params)), rc, what);

  const signer = await primary(client, { ...storageRsa(), objectAttributes: (A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.sign) >>> 0, parameters: { symmetric: NULL_SYM, scheme: { scheme: TPM_ALG.NULL, details: null }, keyBits: 2048, exponent: 0 } } as never);
  assert.equal(await rcOf(start({ tpmKey: signer.objectHandle, encryptedSalt: Buffer.alloc(256, 3) })), rcHandle(TPM_RC.ATTRIBUTES, 1));

  // nonceTPM is as long as nonceCaller; handles are HMAC (0x02) or policy (0x03) sessions.
  const r = await start({ nonceCaller: Buffer.alloc(16, 2) });
  assert.equal(r.nonceTPM.length, 16);
  assert.equal(r.sessionHandle >>> 24, 0x02);
  const p = await start({ sessionType: TPM_SE.POLICY });
  assert.equal(p.sessionHandle >>> 24, 0x03);
});

test('an unbound HMAC session proves the owner authValue; a wrong one is TPM_RC_BAD_AUTH (owner is DA-exempt)', async () => {
  const ownerAuth = Buffer.from('owner-pw');
  await client.call(HierarchyChangeAuth, { authHandle: TPM_RH.OWNER }, { newAuth: ownerAuth }, { auth: [password()] });
  try {
    const s = await startSession(client, TPM_SE.HMAC);
    await createPrimaryWith(client, s, ownerAuth);
    assert.equal(await rcOf(createPrimaryWith(client, s, Buffer.from('nope'))), rcSession(TPM_RC.BAD_AUTH, 1));
    // Passwords: trailing zeros do not count.
    await createPrimaryWith(client, password(Buffer.concat([ownerAuth, Buffer.alloc(2)])));
    assert.equal(await rcOf(createPrimaryWith(client, password('owner'))), rcSession(TPM_RC.BAD_AUTH, 1));
  } finally {
    await client.call(HierarchyChangeAuth, { authHandle: TPM_RH.OWNER }, { newAuth: EMPTY }, { auth: [password('owner-pw')] });
  }
});

test('a bound session leaves the bind entity authValue out of its HMAC, and a session bound to an empty authValue still has a key', async () => {
  const ownerAuth = Buffer.from('bind-me');
  await client.call(HierarchyChangeAuth, { authHandle: TPM_RH.OWNER }, { newAuth: ownerAuth }, { auth: [password()] });
  try {
    const bound = await startSession(client, TPM_SE.HMAC, { bind: { handle: TPM_RH.OWNER, name: OWNER_NAME, authValue: ownerAuth } });
    assert.equal(bound.sessionKey.length, 32);
    // The client omits the authValue because the entity is the bind entity; the TPM agrees.
    await createPrimaryWith(client, bound, ownerAuth);
    // Used for another entity (endorsement, empty auth), its authValue is included.
    await client.call(
      CreatePrimary,
      { primaryHandle: TPM_RH.ENDORSEMENT },
      { inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic: storageRsa(), outsideInfo: EMPTY, creationPCR: NO_PCRS },
      { auth: [bound], entityAuth: [EMPTY], names: [u32(TPM_RH.ENDORSEMENT)] },
    );
  } finally {
    await client.call(HierarchyChangeAuth, { authHandle: TPM_RH.OWNER }, { newAuth: EMPTY }, { auth: [password('bind-me')] });
  }
  const emptyBound = await startSession(client, TPM_SE.HMAC, { bind: { handle: TPM_RH.OWNER, name: OWNER_NAME, authValue: EMPTY } });
  assert.equal(emptyBound.sessionKey.length, 32);
  await createPrimaryWith(client, emptyBound);
});

test('salted sessions: the salt is recovered with an RSA (OAEP) or ECC (KDFe) decrypt key', async () => {
  for (const template of [storageRsa(), storageEcc()]) {
    const key = await primary(client, template);
    const { seed, encryptedSecret } = createSeed(sharingRecipientOf(tpm.objects.get(key.objectHandle)), 'SECRET');
    const s = await startSession(client, TPM_SE.HMAC, { tpmKey: key.objectHandle, salt: seed, encryptedSalt: encryptedSecret });
    assert.equal(s.sessionKey.length, 32);
    await createPrimaryWith(client, s);
  }
});

test('session rules: a session beyond the authorizations needs encrypt/decrypt/audit, a password session cannot be one, continueSession clear flushes', async () => {
  const s = await startSession(client, TPM_SE.HMAC);
  assert.equal(await rcOf(client.call(GetRandom, {}, { bytesRequested: 4 }, { auth: [s] })), rcSession(TPM_RC.ATTRIBUTES, 1));
  assert.equal(await rcOf(client.call(GetRandom, {}, { bytesRequested: 4 }, { auth: [password()] })), rcSession(TPM_RC.HANDLE, 1));
  // encrypt with a NULL-symmetric session is TPM_RC_SYMMETRIC.
  s.attributes = 0x41;
  assert.equal(await rcOf(client.call(GetRandom, {}, { bytesRequested: 4 }, { auth: [s] })), rcSession(TPM_RC.SYMMETRIC, 1));
  s.attributes = 0x00;
  await createPrimaryWith(client, s);
  assert.equal(tpm.sessions.has(s.handle), false);
  assert.equal(await rcOf(createPrimaryWith(client, s)), TPM_RC.REFERENCE_S0);
});

test('dictionary attack: failures on a DA-protected object count to TPM_RC_LOCKOUT; DictionaryAttackLockReset clears them', async () => {
  const obj = await sealTo(client, srk.objectHandle, Buffer.from('da'), EMPTY, { userAuth: Buffer.from('right'), attrs: A.fixedTPM | A.fixedParent | A.userWithAuth });
  const savedMax = tpm.da.maxTries;
  tpm.da.maxTries = 3;
  tpm.da.reset();
  try {
    const unseal = (pw: string) => client.call(Unseal, { itemHandle: obj.handle }, {}, { auth: [password(pw)] });
    for (let i = 0; i < 3; i++) assert.equal(await rcOf(unseal('wrong')), rcSession(TPM_RC.AUTH_FAIL, 1));
    assert.equal(tpm.da.failedTries, 3);
    assert.equal(await rcOf(unseal('right')), TPM_RC.LOCKOUT);
    // An HMAC session without the authValue (none included) is locked out too.
    const s = await startSession(client, TPM_SE.HMAC);
    assert.equal(await rcOf(client.call(Unseal, { itemHandle: obj.handle }, {}, { auth: [s], entityAuth: [Buffer.from('right')], names: [obj.name] })), TPM_RC.LOCKOUT);
    await client.call(DictionaryAttackLockReset, { lockHandle: TPM_RH.LOCKOUT }, {}, { auth: [password()] });
    assert.equal((await unseal('right')).outData.toString(), 'da');
    // A wrong lockoutAuth locks lockoutAuth itself out.
    assert.equal(await rcOf(client.call(DictionaryAttackLockReset, { lockHandle: TPM_RH.LOCKOUT }, {}, { auth: [password('bad')] })), rcSession(TPM_RC.AUTH_FAIL, 1));
    assert.equal(await rcOf(client.call(DictionaryAttackLockReset, { lockHandle: TPM_RH.LOCKOUT }, {}, { auth: [password()] })), TPM_RC.LOCKOUT);
  } finally {
    tpm.da.maxTries = savedMax;
    tpm.da.reset();
  }
});

const AES_CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };
const XOR_SHA256 = { algorithm: TPM_ALG.XOR, keyBits: TPM_ALG.SHA256, mode: null };

test('parameter encryption (AES-CFB and XOR): decrypt on the way in, encrypt on the way out, keyed with the entity authValue even when bound', async () => {
  for (const symmetric of [AES_CFB, XOR_SHA256]) {
    // Bound to the SRK, decrypting Create's inSensitive: the new object's authValue and data
    // travel encrypted and must arrive intact to be usable.
    const srkEntity = { handle: srk.objectHandle, name: tpm.objects.get(srk.objectHandle).name, authValue: EMPTY };
    const s = await startSession(client, TPM_SE.HMAC, { symmetric, bind: srkEntity });
    s.attributes = CONTINUE_SESSION | DECRYPT;
    const objAuth = Buffer.from('through an encrypted session');
    const created = await client.call(
      Create,
      { parentHandle: srk.objectHandle },
      { inSensitive: { userAuth: objAuth, data: Buffer.from('plain') }, inPublic: sealed(A.fixedTPM | A.fixedParent | A.userWithAuth | A.noDA), outsideInfo: EMPTY, creationPCR: NO_PCRS },
      { auth: [s], entityAuth: [EMPTY], names: [srkEntity.name] },
    );
    const obj = await client.call(Load, { parentHandle: srk.objectHandle }, { inPrivate: created.outPrivate, inPublic: created.outPublic }, { auth: [password()] });
    // Encrypt: Unseal's outData comes back encrypted (keyed with the object's authValue) and the client decrypts it.
    s.attributes = CONTINUE_SESSION | ENCRYPT;
    const call = { auth: [s], entityAuth: [objAuth], names: [obj.name] };
    const raw = tpm.execute(TpmClient.marshalCommand(Unseal, { itemHandle: obj.objectHandle }, {}, call));
    assert.ok(!raw.includes(Buffer.from('plain')));
    assert.equal(TpmClient.unmarshalResponse(Unseal, raw, call).outData.toString(), 'plain');
  }
});

test('a decrypt/encrypt session after an HMAC authorization: its nonceTPM joins the first session\'s HMAC', async () => {
  const obj = await sealTo(client, srk.objectHandle, Buffer.from('two sessions'), EMPTY, { userAuth: Buffer.from('pw2'), attrs: A.fixedTPM | A.fixedParent | A.userWithAuth | A.noDA });
  const auth = await startSession(client, TPM_SE.HMAC);
  const enc = await startSession(client, TPM_SE.HMAC, { symmetric: AES_CFB });
  enc.attributes = CONTINUE_SESSION | ENCRYPT;
  const out = await client.call(Unseal, { itemHandle: obj.handle }, {}, { auth: [auth, enc], entityAuth: [Buffer.from('pw2')], names: [obj.name] });
  assert.equal(out.outData.toString(), 'two sessions');
  // Leaving the extra nonce out of the first HMAC fails it.
  const lying = Object.create(auth) as typeof auth;
  Object.defineProperty(lying, 'extraNonces', { get: () => [], set: () => {} });
  assert.equal(
    await rcOf(client.call(Unseal, { itemHandle: obj.handle }, {}, { auth: [lying, enc], entityAuth: [Buffer.from('pw2')], names: [obj.name] })),
    rcSession(TPM_RC.BAD_AUTH, 1), // the object is noDA
  );
});

test('HierarchyChangeAuth through an HMAC session: the response HMAC uses the new authValue', async () => {
  const s = await startSession(client, TPM_SE.HMAC);
  s.responseAuth = Buffer.from('new-owner');
  await client.call(HierarchyChangeAuth, { authHandle: TPM_RH.OWNER }, { newAuth: Buffer.from('new-owner') }, { auth: [s], entityAuth: [EMPTY], names: [OWNER_NAME] });
  s.responseAuth = EMPTY;
  await client.call(HierarchyChangeAuth, { authHandle: TPM_RH.OWNER }, { newAuth: EMPTY }, { auth: [s], entityAuth: [Buffer.from('new-owner')], names: [OWNER_NAME] });
  await createPrimaryWith(client, password());
});

test('no internal errors', () => {
  assert.deepEqual(internalErrors, []);
});
