// TPM2_Duplicate and TPM2_Import in process: duplicate to RSA and ECC new parents, with and
// without an inner wrapper, import, and check the imported sensitive area is the original;
// an external key wrapped by the caller (BYOK) imports and works; the attribute and size rules
// as a table; any tampering with the blob, its seed, key or public area fails closed; and
// TPM2_Rewrap moves a blob to another parent.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { TPM_ALG, TPM_RC, TPM_RH, TPM_SE } from '../../wire/constants.js';
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import type { TPMT_PUBLIC } from '../../wire/types/index.js';
import { digest } from '../../crypto/hash.js';
import { createSeed } from '../../crypto/secret-sharing.js';
import { ClientSession, password } from '../../client/auth.js';
import { loadObject } from '../../engine/keys.js';
import { objectName } from '../../engine/names.js';
import { unwrapPrivate } from '../../engine/private-area.js';
import type { TpmObject } from '../../engine/objects.js';
import { RSA_Decrypt } from '../asymmetric/index.js';
import { sharingRecipientOf } from '../asymmetric/key-material.js';
import { AES128_CFB, eccTemplate, loadKey, rcOf, rsaTemplate, startedTpm, storageTemplate, USER } from '../asymmetric/test-fixture.js';
import { sensitiveToDuplicate } from './duplication-blob.js';
import { Duplicate, Import, Rewrap } from './index.js';
import { newKeyPair } from '@sealkeep/crypto/key-pairs';

const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
/** PolicyCommandCode(TPM_CC_Duplicate) from a fresh session (Part 3 §23.11). */
const DUP_POLICY = digest(TPM_ALG.SHA256, Buffer.alloc(32), u32(TPM_CC.PolicyCommandCode), u32(TPM_CC.Duplicate));

const { tpm, client } = await startedTpm();
const srk = loadKey(tpm, storageTemplate());
const eccParent = loadKey(tpm, eccTemplate(A.restricted | A.decrypt | USER | A.fixedTPM | A.fixedParent, undefined, AES128_CFB));
const DUPLICABLE = A.decrypt | USER | A.adminWithPolicy;
const child = loadKey(tpm, rsaTemplate(DUPLICABLE, undefined, undefined, DUP_POLICY), { authValue: Buffer.from('child-auth') });

/** A policy session that has run PolicyCommandCode(Duplicate), as TPM2_PolicyCommandCode leaves it. */
function dupSession(): ClientSession {
  const nonceCaller = randomBytes(32);
  const s = tpm.sessions.start({ type: TPM_SE.POLICY, hashAlg: TPM_ALG.SHA256, symmetric: { algorithm: TPM_ALG.NULL, keyBits: 0, mode: 0 }, nonceCaller, salt: Buffer.alloc(0), bind: null });
  s.policy.digest = DUP_POLICY;
  s.policy.commandCode = TPM_CC.Duplicate;
  const cs = new ClientSession(s.handle, TPM_SE.POLICY, TPM_ALG.SHA256, nonceCaller, s.nonceTPM, Buffer.alloc(0));
  cs.attributes = 0;
  return cs;
}

const NO_SYM = { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
const duplicate = (objectHandle: number, newParentHandle: number, encryptionKeyIn = Buffer.alloc(0), symmetricAlg: object = NO_SYM, obj: TpmObject = child.obj) =>
  client.call(Duplicate, { objectHandle, newParentHandle }, { encryptionKeyIn, symmetricAlg: symmetricAlg as never }, {
    auth: [dupSession()],
    names: [obj.name, newParentHandle === TPM_RH.NULL ? u32(TPM_RH.NULL) : tpm.objects.get(newParentHandle).name],
  });
const importBlob = (parentHandle: number, p: { encryptionKey?: Buffer; objectPublic: TPMT_PUBLIC; duplicate: Buffer; inSymSeed: Buffer; symmetricAlg?: object }) =>
  client.call(
    Import,
    { parentHandle },
    { encryptionKey: p.encryptionKey ?? Buffer.alloc(0), objectPublic: p.objectPublic, duplicate: p.duplicate, inSymSeed: p.inSymSeed, symmetricAlg: (p.symmetricAlg ?? NO_SYM) as never },
    { auth: [password()] },
  );

/** Recover what Import produced under `parent`, as TPM2_Load will. */
function loadImported(parent: TpmObject, pub: TPMT_PUBLIC, outPrivate: Buffer): number {
  const sensitive = unwrapPrivate(tpm, parent, pub, outPrivate);
  return tpm.objects.load(loadObject(pub, sensitive, { parent, hierarchy: TPM_RH.OWNER, blame: { public: 2, sensitive: 1 } }));
}

const AES128 = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };

for (const [parentName, parent] of [['RSA', srk], ['ECC', eccParent]] as const) {
  for (const inner of ['no inner wrapper', 'TPM-chosen inner key', 'caller inner key'] as const) {
    test(`duplicate to an ${parentName} new parent with ${inner}, then import: the same sensitive area`, async () => {
      const callerKey = inner === 'caller inner key' ? randomBytes(16) : Buffer.alloc(0);
      const sym = inner === 'no inner wrapper' ? NO_SYM : AES128;
      const dup = await duplicate(child.handle, parent.handle, callerKey, sym);
      assert.equal(dup.encryptionKeyOut.length, inner === 'TPM-chosen inner key' ? 16 : 0);
      const encryptionKey = inner === 'caller inner key' ? callerKey : dup.encryptionKeyOut;
      const { outPrivate } = await importBlob(parent.handle, { encryptionKey, objectPublic: child.obj.public, duplicate: dup.duplicate, inSymSeed: dup.outSymSeed, symmetricAlg: sym });
      const sensitive = unwrapPrivate(tpm, parent.obj, child.obj.public, outPrivate);
      assert.deepEqual(sensitive, { ...child.obj.sensitive!, authValue: Buffer.from('child-auth') });
    });
  }
}

test('duplicate with no new parent (TPM_RH_NULL): inner wrapper only, no seed; imports with an empty inSymSeed', async () => {
  const dup = await duplicate(child.handle, TPM_RH.NULL, Buffer.alloc(0), AES128);
  assert.equal(dup.outSymSeed.length, 0);
  const { outPrivate } = await importBlob(srk.handle, { encryptionKey: dup.encryptionKeyOut, objectPublic: child.obj.public, duplicate: dup.duplicate, inSymSeed: Buffer.alloc(0), symmetricAlg: AES128 });
  assert.ok(outPrivate.length > 0);
});

test('BYOK: a key made outside the TPM, wrapped by the caller to the SRK, imports, loads and decrypts', async () => {
  const { privateKey } = newKeyPair('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const pub: TPMT_PUBLIC = { ...rsaTemplate(A.decrypt | A.userWithAuth | A.noDA), unique: Buffer.from(jwk.n!, 'base64url') };
  const sensitive = { sensitiveType: TPM_ALG.RSA, authValue: Buffer.from('tenant'), seedValue: Buffer.alloc(0), sensitive: Buffer.from(jwk.p!, 'base64url') };
  const shared = createSeed(sharingRecipientOf(srk.obj), 'DUPLICATE');
  const name = objectName(pub);
  const blob = sensitiveToDuplicate(sensitive, { name, nameAlg: pub.nameAlg, outer: { parent: srk.obj, seed: shared.seed }, innerKey: null });
  const { outPrivate } = await importBlob(srk.handle, { objectPublic: pub, duplicate: blob, inSymSeed: shared.encryptedSecret });
  const handle = loadImported(srk.obj, pub, outPrivate);
  const msg = Buffer.from('tenant key material');
  const ct = publicEncrypt({ key: createPublicKey(privateKey), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, msg);
  const { message } = await client.call(RSA_Decrypt, { keyHandle: handle }, { cipherText: ct, inScheme: { scheme: TPM_ALG.OAEP, details: { hashAlg: TPM_ALG.SHA256 } }, label: Buffer.alloc(0) }, { auth: [password('tenant')] });
  assert.deepEqual(message, msg);
});

test('Duplicate refusals', async () => {
  const fixed = loadKey(tpm, rsaTemplate(A.decrypt | USER | A.fixedTPM | A.fixedParent | A.adminWithPolicy, undefined, undefined, DUP_POLICY));
  assert.equal(await rcOf(duplicate(fixed.handle, srk.handle, undefined, undefined, fixed.obj)), rcHandle(TPM_RC.ATTRIBUTES, 1));
  const notStorage = loadKey(tpm, rsaTemplate(A.decrypt | USER));
  assert.equal(await rcOf(duplicate(child.handle, notStorage.handle)), rcHandle(TPM_RC.TYPE, 2));
  assert.equal(await rcOf(duplicate(child.handle, srk.handle, randomBytes(16))), rcParam(TPM_RC.SIZE, 1));
  assert.equal(await rcOf(duplicate(child.handle, srk.handle, randomBytes(8), AES128)), rcParam(TPM_RC.SIZE, 1));
  const encDup = loadKey(tpm, rsaTemplate(DUPLICABLE | A.encryptedDuplication, undefined, undefined, DUP_POLICY));
  assert.equal(await rcOf(duplicate(encDup.handle, srk.handle, undefined, NO_SYM, encDup.obj)), rcParam(TPM_RC.SYMMETRIC, 2));
  assert.equal(await rcOf(duplicate(encDup.handle, TPM_RH.NULL, undefined, AES128, encDup.obj)), rcHandle(TPM_RC.HIERARCHY, 2));
  // The DUP role takes a policy session: a password is refused before the command runs (TPM_RC_AUTH_TYPE).
  const withPassword = client.call(Duplicate, { objectHandle: child.handle, newParentHandle: srk.handle }, { encryptionKeyIn: Buffer.alloc(0), symmetricAlg: NO_SYM as never }, { auth: [password('child-auth')] });
  assert.equal(await rcOf(withPassword), TPM_RC.AUTH_TYPE);
});

test('tampering with any part of a duplication blob is TPM_RC_INTEGRITY on duplicate, never a failure', async () => {
  const dup = await duplicate(child.handle, srk.handle, Buffer.alloc(0), AES128);
  const base = { encryptionKey: dup.encryptionKeyOut, objectPublic: child.obj.public, duplicate: dup.duplicate, inSymSeed: dup.outSymSeed, symmetricAlg: AES128 };
  const INTEGRITY = rcParam(TPM_RC.INTEGRITY, 3);
  for (let i = 0; i < dup.duplicate.length; i += 7) {
    const bent = Buffer.from(dup.duplicate);
    bent[i] = bent[i]! ^ 0x01;
    assert.equal(await rcOf(importBlob(srk.handle, { ...base, duplicate: bent })), INTEGRITY, `byte ${i}`);
  }
  assert.equal(await rcOf(importBlob(srk.handle, { ...base, duplicate: dup.duplicate.subarray(0, 40) })), INTEGRITY);
  // The wrong inner key, or a different public area (another Name), breaks integrity too.
  assert.equal(await rcOf(importBlob(srk.handle, { ...base, encryptionKey: randomBytes(16) })), INTEGRITY);
  const otherPublic = { ...child.obj.public, objectAttributes: child.obj.public.objectAttributes ^ A.noDA };
  assert.equal(await rcOf(importBlob(srk.handle, { ...base, objectPublic: otherPublic })), INTEGRITY);
  // A bent seed fails OAEP decoding: TPM_RC_VALUE on inSymSeed.
  const seed = Buffer.from(dup.outSymSeed);
  seed[10] = seed[10]! ^ 0x80;
  assert.equal(await rcOf(importBlob(srk.handle, { ...base, inSymSeed: seed })), rcParam(TPM_RC.VALUE, 4));
  // Imported under the wrong parent: its seed does not open.
  const other = loadKey(tpm, storageTemplate());
  assert.equal(await rcOf(importBlob(other.handle, base)), rcParam(TPM_RC.VALUE, 4));
});

test('Import refusals', async () => {
  const dup = await duplicate(child.handle, srk.handle);
  const base = { objectPublic: child.obj.public, duplicate: dup.duplicate, inSymSeed: dup.outSymSeed };
  const fixedPublic = { ...child.obj.public, objectAttributes: child.obj.public.objectAttributes | A.fixedParent };
  assert.equal(await rcOf(importBlob(srk.handle, { ...base, objectPublic: fixedPublic })), rcParam(TPM_RC.ATTRIBUTES, 2));
  const notParent = loadKey(tpm, rsaTemplate(A.decrypt | USER));
  assert.equal(await rcOf(importBlob(notParent.handle, base)), rcHandle(TPM_RC.TYPE, 1));
  assert.equal(await rcOf(importBlob(srk.handle, { ...base, encryptionKey: randomBytes(16) })), rcParam(TPM_RC.SIZE, 1));
  assert.equal(await rcOf(importBlob(srk.handle, { ...base, symmetricAlg: AES128, encryptionKey: randomBytes(32) })), rcParam(TPM_RC.SIZE, 1));
  const encDupPublic = { ...child.obj.public, objectAttributes: child.obj.public.objectAttributes | A.encryptedDuplication };
  assert.equal(await rcOf(importBlob(srk.handle, { ...base, objectPublic: encDupPublic })), rcParam(TPM_RC.ATTRIBUTES, 1));
  assert.equal(await rcOf(importBlob(srk.handle, { ...base, objectPublic: encDupPublic, symmetricAlg: AES128, encryptionKey: randomBytes(16), inSymSeed: Buffer.alloc(0) })), rcParam(TPM_RC.ATTRIBUTES, 4));
});

test('Rewrap moves a blob from one new parent to another without opening it; the result imports there', async () => {
  const dup = await duplicate(child.handle, srk.handle, Buffer.alloc(0), AES128);
  const { outDuplicate, outSymSeed } = await client.call(
    Rewrap,
    { oldParent: srk.handle, newParent: eccParent.handle },
    { inDuplicate: dup.duplicate, name: child.obj.name, inSymSeed: dup.outSymSeed },
    { auth: [password()] },
  );
  const { outPrivate } = await importBlob(eccParent.handle, { encryptionKey: dup.encryptionKeyOut, objectPublic: child.obj.public, duplicate: outDuplicate, inSymSeed: outSymSeed, symmetricAlg: AES128 });
  assert.deepEqual(unwrapPrivate(tpm, eccParent.obj, child.obj.public, outPrivate).sensitive, child.obj.sensitive!.sensitive);
  // A seed without an old parent, or the other way round, names oldParent.
  const mismatch = client.call(Rewrap, { oldParent: TPM_RH.NULL, newParent: eccParent.handle }, { inDuplicate: dup.duplicate, name: child.obj.name, inSymSeed: dup.outSymSeed }, { auth: [password()] });
  assert.equal(await rcOf(mismatch), rcHandle(TPM_RC.HANDLE, 1));
  const bent = Buffer.from(dup.duplicate);
  bent[bent.length - 1] = bent[bent.length - 1]! ^ 1;
  const tampered = client.call(Rewrap, { oldParent: srk.handle, newParent: eccParent.handle }, { inDuplicate: bent, name: child.obj.name, inSymSeed: dup.outSymSeed }, { auth: [password()] });
  assert.equal(await rcOf(tampered), rcParam(TPM_RC.INTEGRITY, 1));
});
