// Policy commands in process (Part 3 §23): known-answer digests from test/vectors/tpm-policy.json
// computed in trial sessions, and each assertion enforced when a real policy session authorizes
// TPM2_Unseal of a sealed object — PCRs, command codes, authValue/password, secrets, signatures,
// OR and authorized policies, tickets, and the reset of a policy session after each use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { marshal } from '../../wire/codec.js';
import { TPM_ALG, TPM_RC, TPM_RH, TPM_ST } from '../../wire/constants.js';
import { TPM_CC } from '../../wire/command-codes.js';
import { rcParam, rcSession } from '../../wire/rc.js';
import { TPML_PCR_SELECTION, type TPMT_PUBLIC } from '../../wire/types/index.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';
import { password } from '../../client/auth.js';
import { InProcessTransport } from '../../client/transport.js';
import { TpmClient } from '../../client/client.js';
import { PCR_Extend } from '../pcr/index.js';
import { LoadExternal, Unseal } from '../object/index.js';
import { VerifySignature } from '../signing/index.js';
import { PolicyRestart } from '../session/index.js';
import { EMPTY, primary, rcOf, startedTpm } from '../object/object-fixture.js';
import { policySessionFor, sealTo, trialSession } from '../session/session-fixture.js';
import {
  PolicyAuthorize,
  PolicyAuthValue,
  PolicyCommandCode,
  PolicyCpHash,
  PolicyGetDigest,
  PolicyLocality,
  PolicyNameHash,
  PolicyOR,
  PolicyPassword,
  PolicyPCR,
  PolicySecret,
  PolicySigned,
  PolicyTicket,
} from './index.js';
import { newKeyPair } from '@sealkeep/crypto/key-pairs';

const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();
const u32 = (v: number) => Buffer.from(v.toString(16).padStart(8, '0'), 'hex');
const ZERO = Buffer.alloc(32);
const PCR01 = [{ hash: TPM_ALG.SHA256, pcrSelect: Buffer.from('030000', 'hex') }];

const { tpm, client, internalErrors } = await startedTpm();
const parent = (await primary(client)).objectHandle;

async function digestOf(handle: number): Promise<Buffer> {
  return (await client.call(PolicyGetDigest, { policySession: handle }, {})).policyDigest;
}

type Step = { command: string; authHandle?: string; policyRef?: string; code?: number; locality?: number; pcrs?: { hash: number; select: string }; pcrDigest?: string; digest?: string };

async function runStep(client: TpmClient, policySession: number, step: Step): Promise<void> {
  switch (step.command) {
    case 'PolicySecret':
      await client.call(
        PolicySecret,
        { authHandle: parseInt(step.authHandle!, 16), policySession },
        { nonceTPM: EMPTY, cpHashA: EMPTY, policyRef: Buffer.from(step.policyRef ?? '', 'hex'), expiration: 0 },
        { auth: [password()] },
      );
      return;
    case 'PolicyAuthValue':
      await client.call(PolicyAuthValue, { policySession }, {});
      return;
    case 'PolicyPassword':
      await client.call(PolicyPassword, { policySession }, {});
      return;
    case 'PolicyCommandCode':
      await client.call(PolicyCommandCode, { policySession }, { code: step.code! });
      return;
    case 'PolicyLocality':
      await client.call(PolicyLocality, { policySession }, { locality: step.locality! });
      return;
    case 'PolicyPCR':
      await client.call(
        PolicyPCR,
        { policySession },
        { pcrDigest: Buffer.from(step.pcrDigest ?? '', 'hex'), pcrs: [{ hash: step.pcrs!.hash, pcrSelect: Buffer.from(step.pcrs!.select, 'hex') }] },
      );
      return;
    default:
      throw new Error(`no runner for ${step.command}`);
  }
}

const vectors = JSON.parse(readFileSync(new URL('../../../../../test/vectors/tpm-policy.json', import.meta.url), 'utf8')) as {
  policies: Array<{ name: string; source: string; steps: Step[]; digest: string }>;
};

for (const v of vectors.policies) {
  test(`known answer: ${v.name} (${v.source})`, async () => {
    // A fresh TPM each: PCRs are all zero after Startup(CLEAR).
    const { client: c } = await startedTpm();
    const s = await trialSession(c);
    const current = async () => (await c.call(PolicyGetDigest, { policySession: s.handle }, {})).policyDigest.toString('hex');
    for (const step of v.steps) {
      await runStep(c, s.handle, step);
      if (step.digest) assert.equal(await current(), step.digest);
    }
    assert.equal(await current(), v.digest);
  });
}

test('PolicyPCR: a trial digest seals data that a real session unseals until the PCR changes', async () => {
  const trial = await trialSession(client);
  await client.call(PolicyPCR, { policySession: trial.handle }, { pcrDigest: EMPTY, pcrs: PCR01 });
  const policy = await digestOf(trial.handle);
  const pcrDigest = sha256(tpm.pcr.read(TPM_ALG.SHA256, 0), tpm.pcr.read(TPM_ALG.SHA256, 1));
  assert.deepEqual(policy, sha256(ZERO, u32(TPM_CC.PolicyPCR), marshal(TPML_PCR_SELECTION, PCR01), pcrDigest));

  const sealed = await sealTo(client, parent, Buffer.from('pcr-bound secret'), policy);
  const s = await policySessionFor(client);
  await client.call(PolicyPCR, { policySession: s.handle }, { pcrDigest, pcrs: PCR01 });
  const out = await client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], names: [sealed.name] });
  assert.equal(out.outData.toString(), 'pcr-bound secret');

  // The session was reset after that use: its digest is zeros again and cannot unseal.
  assert.deepEqual(await digestOf(s.handle), ZERO);
  assert.equal(await rcOf(client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], names: [sealed.name] })), rcSession(TPM_RC.POLICY_FAIL, 1));

  // A PCR change after PolicyPCR voids the session (TPM_RC_PCR_CHANGED); afterwards the digest differs.
  await client.call(PolicyPCR, { policySession: s.handle }, { pcrDigest: EMPTY, pcrs: PCR01 });
  await client.call(PCR_Extend, { pcrHandle: 0 }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest: Buffer.alloc(32, 1) }] }, { auth: [password()] });
  assert.equal(await rcOf(client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], names: [sealed.name] })), TPM_RC.PCR_CHANGED);
  assert.equal(await rcOf(client.call(PolicyPCR, { policySession: s.handle }, { pcrDigest: EMPTY, pcrs: PCR01 })), TPM_RC.PCR_CHANGED);
  await client.call(PolicyRestart, { sessionHandle: s.handle }, {});
  await client.call(PolicyPCR, { policySession: s.handle }, { pcrDigest: EMPTY, pcrs: PCR01 });
  assert.equal(await rcOf(client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], names: [sealed.name] })), rcSession(TPM_RC.POLICY_FAIL, 1));
  // A caller-supplied digest that is not current is refused.
  assert.equal(await rcOf(client.call(PolicyPCR, { policySession: s.handle }, { pcrDigest, pcrs: PCR01 })), rcParam(TPM_RC.VALUE, 1));
});

test('a trial session computes but cannot authorize', async () => {
  const trial = await trialSession(client);
  const sealed = await sealTo(client, parent, Buffer.from('x'), ZERO);
  assert.equal(await rcOf(client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [trial], names: [sealed.name] })), rcSession(TPM_RC.ATTRIBUTES, 1));
});

test('PolicyCommandCode limits the session to one command', async () => {
  const trial = await trialSession(client);
  await client.call(PolicyCommandCode, { policySession: trial.handle }, { code: TPM_CC.Unseal });
  const policy = await digestOf(trial.handle);
  assert.equal(policy.toString('hex'), 'e613137076524bde487533865884e9732ebee3aacb095d94a6de492ec06c46fa');
  const sealed = await sealTo(client, parent, Buffer.from('cc'), policy);
  const s = await policySessionFor(client);
  await client.call(PolicyCommandCode, { policySession: s.handle }, { code: TPM_CC.Unseal });
  assert.equal((await client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], names: [sealed.name] })).outData.toString(), 'cc');
  assert.equal(await rcOf(client.call(PolicyCommandCode, { policySession: s.handle }, { code: 0x12345 })), rcParam(TPM_RC.POLICY_CC, 1));
  await client.call(PolicyCommandCode, { policySession: s.handle }, { code: TPM_CC.Unseal });
  assert.equal(await rcOf(client.call(PolicyCommandCode, { policySession: s.handle }, { code: TPM_CC.Load })), rcParam(TPM_RC.VALUE, 1));
});

test('PolicyAuthValue puts the authValue in the HMAC; PolicyPassword sends it in the clear; failures count toward lockout', async () => {
  const trial = await trialSession(client);
  await client.call(PolicyAuthValue, { policySession: trial.handle }, {});
  const policy = await digestOf(trial.handle);
  const auth = Buffer.from('object secret');
  const sealed = await sealTo(client, parent, Buffer.from('av'), policy, { userAuth: auth });

  const s = await policySessionFor(client);
  await client.call(PolicyAuthValue, { policySession: s.handle }, {});
  s.includeAuthValue = true;
  const out = await client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], entityAuth: [auth], names: [sealed.name] });
  assert.equal(out.outData.toString(), 'av');

  const before = tpm.da.failedTries;
  await client.call(PolicyAuthValue, { policySession: s.handle }, {});
  s.includeAuthValue = true;
  assert.equal(await rcOf(client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], entityAuth: [Buffer.from('wrong')], names: [sealed.name] })), rcSession(TPM_RC.AUTH_FAIL, 1));
  assert.equal(tpm.da.failedTries, before + 1);
  tpm.da.reset();

  // A failed command leaves the policy session as it was; start it over.
  await client.call(PolicyRestart, { sessionHandle: s.handle }, {});
  s.includeAuthValue = false;
  await client.call(PolicyPassword, { policySession: s.handle }, {});
  assert.deepEqual(await digestOf(s.handle), policy);
  s.passwordInClear = true;
  // Trailing zeros of a password do not count.
  const out2 = await client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], entityAuth: [Buffer.concat([auth, Buffer.alloc(3)])], names: [sealed.name] });
  assert.equal(out2.outData.toString(), 'av');
});

test('PolicySecret: the endorsement hierarchy policy, nonce binding, expiration ticket and PolicyTicket', async () => {
  const s = await policySessionFor(client);
  const r = await client.call(
    PolicySecret,
    { authHandle: TPM_RH.ENDORSEMENT, policySession: s.handle },
    { nonceTPM: s.nonceTPM, cpHashA: EMPTY, policyRef: EMPTY, expiration: 0 },
    { auth: [password()] },
  );
  assert.equal(r.timeout.length, 0);
  assert.equal(r.policyTicket.hierarchy, TPM_RH.NULL);
  assert.equal((await digestOf(s.handle)).toString('hex'), '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa');

  assert.equal(
    await rcOf(client.call(PolicySecret, { authHandle: TPM_RH.ENDORSEMENT, policySession: s.handle }, { nonceTPM: Buffer.alloc(32, 7), cpHashA: EMPTY, policyRef: EMPTY, expiration: 0 }, { auth: [password()] })),
    rcParam(TPM_RC.NONCE, 1),
  );
  assert.equal(
    await rcOf(client.call(PolicySecret, { authHandle: TPM_RH.ENDORSEMENT, policySession: s.handle }, { nonceTPM: EMPTY, cpHashA: Buffer.alloc(5), policyRef: EMPTY, expiration: 0 }, { auth: [password()] })),
    rcParam(TPM_RC.SIZE, 2),
  );

  // A negative expiration asks for a ticket; PolicyTicket then reproduces the same policy.
  await client.call(PolicyRestart, { sessionHandle: s.handle }, {});
  const ref = Buffer.from('ref');
  const t = await client.call(
    PolicySecret,
    { authHandle: TPM_RH.OWNER, policySession: s.handle },
    { nonceTPM: EMPTY, cpHashA: EMPTY, policyRef: ref, expiration: -100 },
    { auth: [password()] },
  );
  assert.equal(t.timeout.length, 8);
  assert.equal(t.policyTicket.tag, TPM_ST.AUTH_SECRET);
  const viaSecret = await digestOf(s.handle);
  assert.deepEqual(viaSecret, sha256(sha256(ZERO, u32(TPM_CC.PolicySecret), u32(TPM_RH.OWNER)), ref));
  await client.call(PolicyRestart, { sessionHandle: s.handle }, {});
  const ownerName = u32(TPM_RH.OWNER);
  await client.call(PolicyTicket, { policySession: s.handle }, { timeout: t.timeout, cpHashA: EMPTY, policyRef: ref, authName: ownerName, ticket: t.policyTicket });
  assert.deepEqual(await digestOf(s.handle), viaSecret);
  assert.equal(
    await rcOf(client.call(PolicyTicket, { policySession: s.handle }, { timeout: t.timeout, cpHashA: EMPTY, policyRef: Buffer.from('other'), authName: ownerName, ticket: t.policyTicket })),
    rcParam(TPM_RC.TICKET, 5),
  );

  // A policy session used to authorize PolicySecret must prove the authValue (TPM_RC_MODE otherwise).
  const plain = await policySessionFor(client);
  assert.equal(
    await rcOf(client.call(PolicySecret, { authHandle: parent, policySession: s.handle }, { nonceTPM: EMPTY, cpHashA: EMPTY, policyRef: EMPTY, expiration: 0 }, { auth: [plain], names: [tpm.objects.get(parent).name, u32(s.handle)] })),
    rcSession(TPM_RC.MODE, 1),
  );
});

function externalRsaKey() {
  const { publicKey, privateKey } = newKeyPair('rsa', { modulusLength: 2048 });
  const n = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
  const template = {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: (A.sign | A.userWithAuth) >>> 0,
    authPolicy: EMPTY,
    parameters: { symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null }, scheme: { scheme: TPM_ALG.RSASSA, details: { hashAlg: TPM_ALG.SHA256 } }, keyBits: 2048, exponent: 0 },
    unique: n,
  } as TPMT_PUBLIC;
  const sign = (data: Buffer) => createSign('sha256').update(data).sign(privateKey);
  return { template, sign };
}

test('PolicySigned verifies a signature over nonceTPM || expiration || cpHashA || policyRef', async () => {
  const key = externalRsaKey();
  const loaded = await client.call(LoadExternal, {}, { inPrivate: null as never, inPublic: key.template, hierarchy: TPM_RH.OWNER });
  const s = await policySessionFor(client);
  const ref = Buffer.from('approved');
  const aHashInput = Buffer.concat([s.nonceTPM, u32(0), ref]);
  const auth = { sigAlg: TPM_ALG.RSASSA, signature: { hash: TPM_ALG.SHA256, sig: key.sign(aHashInput) } };
  await client.call(PolicySigned, { authObject: loaded.objectHandle, policySession: s.handle }, { nonceTPM: s.nonceTPM, cpHashA: EMPTY, policyRef: ref, expiration: 0, auth });
  assert.deepEqual(await digestOf(s.handle), sha256(sha256(ZERO, u32(TPM_CC.PolicySigned), loaded.name), ref));

  const forged = { sigAlg: TPM_ALG.RSASSA, signature: { hash: TPM_ALG.SHA256, sig: key.sign(Buffer.from('something else')) } };
  assert.equal(
    await rcOf(client.call(PolicySigned, { authObject: loaded.objectHandle, policySession: s.handle }, { nonceTPM: s.nonceTPM, cpHashA: EMPTY, policyRef: ref, expiration: 0, auth: forged })),
    rcParam(TPM_RC.SIGNATURE, 5),
  );
});

test('PolicyAuthorize accepts an approved policy with a VERIFIED ticket and PolicyOR takes one of several', async () => {
  const key = externalRsaKey();
  const loaded = await client.call(LoadExternal, {}, { inPrivate: null as never, inPublic: key.template, hierarchy: TPM_RH.OWNER });
  const s = await policySessionFor(client);
  await client.call(PolicyCommandCode, { policySession: s.handle }, { code: TPM_CC.Unseal });
  const approved = await digestOf(s.handle);
  const ref = Buffer.from('v1');
  const sig = { sigAlg: TPM_ALG.RSASSA, signature: { hash: TPM_ALG.SHA256, sig: key.sign(Buffer.concat([approved, ref])) } };
  const { validation } = await client.call(VerifySignature, { keyHandle: loaded.objectHandle }, { digest: sha256(approved, ref), signature: sig });
  await client.call(PolicyAuthorize, { policySession: s.handle }, { approvedPolicy: approved, policyRef: ref, keySign: loaded.name, checkTicket: validation });
  const authorized = sha256(sha256(ZERO, u32(TPM_CC.PolicyAuthorize), loaded.name), ref);
  assert.deepEqual(await digestOf(s.handle), authorized);
  assert.equal(
    await rcOf(client.call(PolicyAuthorize, { policySession: s.handle }, { approvedPolicy: approved, policyRef: ref, keySign: loaded.name, checkTicket: validation })),
    rcParam(TPM_RC.VALUE, 1),
  );

  // PolicyOR: the session's digest must be one of the branches.
  const other = Buffer.alloc(32, 9);
  await client.call(PolicyOR, { policySession: s.handle }, { pHashList: [other, authorized] });
  assert.deepEqual(await digestOf(s.handle), sha256(ZERO, u32(TPM_CC.PolicyOR), other, authorized));
  assert.equal(await rcOf(client.call(PolicyOR, { policySession: s.handle }, { pHashList: [other, other] })), rcParam(TPM_RC.VALUE, 1));
});

test('PolicyLocality, PolicyCpHash and PolicyNameHash bind the command that follows', async () => {
  const trial = await trialSession(client);
  await client.call(PolicyLocality, { policySession: trial.handle }, { locality: 0x03 });
  await client.call(PolicyLocality, { policySession: trial.handle }, { locality: 0x01 });
  const policy = await digestOf(trial.handle);
  const sealed = await sealTo(client, parent, Buffer.from('loc'), policy);
  const s = await policySessionFor(client);
  await client.call(PolicyLocality, { policySession: s.handle }, { locality: 0x03 });
  await client.call(PolicyLocality, { policySession: s.handle }, { locality: 0x01 });
  assert.equal(await rcOf(client.call(PolicyLocality, { policySession: s.handle }, { locality: 0x02 })), rcParam(TPM_RC.RANGE, 1));
  const at2 = new TpmClient(new InProcessTransport(tpm, 2));
  assert.equal(await rcOf(at2.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], names: [sealed.name] })), TPM_RC.LOCALITY);
  assert.equal((await client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], names: [sealed.name] })).outData.toString(), 'loc');

  assert.equal(await rcOf(client.call(PolicyCpHash, { policySession: s.handle }, { cpHashA: Buffer.alloc(20) })), rcParam(TPM_RC.SIZE, 1));
  await client.call(PolicyCpHash, { policySession: s.handle }, { cpHashA: Buffer.alloc(32, 1) });
  assert.equal(await rcOf(client.call(PolicyCpHash, { policySession: s.handle }, { cpHashA: Buffer.alloc(32, 2) })), TPM_RC.CPHASH);
  assert.equal(await rcOf(client.call(PolicyNameHash, { policySession: s.handle }, { nameHash: Buffer.alloc(32, 2) })), TPM_RC.CPHASH);
});

test('no internal errors', () => {
  assert.deepEqual(internalErrors, []);
});
