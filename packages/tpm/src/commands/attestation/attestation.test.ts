// TPM2_Quote, Certify, CertifyCreation, GetTime and NV_Certify in process: the TPMS_ATTEST they return,
// its signature checked with node:crypto, clock obfuscation by hierarchy, and the key and
// scheme rules (reference IsSigningObject / CryptSelectSignScheme) as a table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unmarshal } from '../../wire/codec.js';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_RC, TPM_RH, TPM_ST, TPMA_NV } from '../../wire/constants.js';
import { TPMS_ATTEST, pcrSelection, type TPMT_PUBLIC } from '../../wire/types/index.js';
import { digest } from '../../crypto/hash.js';
import { attestationKeyTemplate, signingKeyTemplate, storageKeyTemplate } from '../../client/templates.js';
import { FIRMWARE_VERSION } from '../../engine/attest.js';
import { PCR_Extend, PCR_Read } from '../pcr/index.js';
import { NV_DefineSpace, NV_Write } from '../nv/index.js';
import { Certify, CertifyCreation, GetTime, NV_Certify, Quote } from './index.js';
import { hmacKeyTemplate, password, primary, rejects, startedTpm, verifies, withScheme } from './test-keys.js';

const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };
const nonce = Buffer.from('5eed5eed5eed5eed', 'hex');

test('Quote: signed TPMS_ATTEST over the selected PCRs, with the nonce and the AK qualified name', async () => {
  for (const alg of ['eccP256', 'rsa2048'] as const) {
    const { tpm, client } = await startedTpm();
    const ak = await primary(client, attestationKeyTemplate(alg), TPM_RH.ENDORSEMENT);
    await client.call(PCR_Extend, { pcrHandle: 16 }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest: Buffer.alloc(32, 7) }] }, { auth: [password()] });
    const sel = [pcrSelection(TPM_ALG.SHA256, [0, 16])];
    const q = await client.call(Quote, { signHandle: ak.objectHandle }, { qualifyingData: nonce, inScheme: NULL_SCHEME, PCRselect: sel }, { auth: [password()] });

    const a = unmarshal(TPMS_ATTEST, q.quoted);
    assert.equal(a.magic, TPM_GENERATED_VALUE);
    assert.equal(a.type, TPM_ST.ATTEST_QUOTE);
    assert.deepEqual(a.extraData, nonce);
    assert.deepEqual(a.qualifiedSigner, tpm.objects.get(ak.objectHandle).qualifiedName);
    const pcrs = await client.call(PCR_Read, {}, { pcrSelectionIn: sel });
    const info = a.attested as { pcrSelect: unknown; pcrDigest: Buffer };
    assert.deepEqual(info.pcrSelect, sel);
    assert.deepEqual(info.pcrDigest, digest(TPM_ALG.SHA256, ...pcrs.pcrValues));
    // Endorsement hierarchy: the clock is reported as it is.
    assert.equal(a.clockInfo.resetCount, tpm.clock.resetCount);
    assert.equal(a.clockInfo.restartCount, tpm.clock.restartCount);
    assert.equal(q.signature.sigAlg, alg === 'rsa2048' ? TPM_ALG.RSASSA : TPM_ALG.ECDSA);
    assert.ok(verifies(tpm, ak.objectHandle, q.quoted, q.signature), `${alg} quote signature`);
  }
});

test('keys outside the endorsement and platform hierarchies get obfuscated, stable clock counters', async () => {
  const { tpm, client } = await startedTpm();
  const owned = await primary(client, attestationKeyTemplate('eccP256'), TPM_RH.OWNER);
  const platform = await primary(client, attestationKeyTemplate('eccP256'), TPM_RH.PLATFORM);
  const quote = async (h: number) => {
    const q = await client.call(Quote, { signHandle: h }, { qualifyingData: nonce, inScheme: NULL_SCHEME, PCRselect: [] }, { auth: [password()] });
    return unmarshal(TPMS_ATTEST, q.quoted);
  };
  const [o1, o2, p] = [await quote(owned.objectHandle), await quote(owned.objectHandle), await quote(platform.objectHandle)];
  assert.equal(p.clockInfo.resetCount, tpm.clock.resetCount);
  assert.equal(p.firmwareVersion, FIRMWARE_VERSION);
  assert.notEqual(o1.firmwareVersion, FIRMWARE_VERSION);
  assert.notDeepEqual([o1.clockInfo.resetCount, o1.clockInfo.restartCount], [tpm.clock.resetCount, tpm.clock.restartCount]);
  assert.deepEqual([o1.clockInfo.resetCount, o1.clockInfo.restartCount, o1.firmwareVersion], [o2.clockInfo.resetCount, o2.clockInfo.restartCount, o2.firmwareVersion]);
});

// Scheme selection (reference CryptSelectSignScheme): [key template, inScheme, outcome].
const RSASSA256 = { scheme: TPM_ALG.RSASSA, details: { hashAlg: TPM_ALG.SHA256 } };
const SCHEME_TABLE: Array<[string, TPMT_PUBLIC, { scheme: number; details: { hashAlg: number } | null }, number | 'ok', number?]> = [
  ['key scheme, inScheme NULL', signingKeyTemplate('rsa2048'), NULL_SCHEME, 'ok', TPM_ALG.RSASSA],
  ['key scheme = inScheme', signingKeyTemplate('rsa2048'), RSASSA256, 'ok', TPM_ALG.RSASSA],
  ['inScheme with another hash', signingKeyTemplate('rsa2048'), { scheme: TPM_ALG.RSASSA, details: { hashAlg: TPM_ALG.SHA384 } }, TPM_RC.SCHEME],
  ['inScheme another scheme', signingKeyTemplate('rsa2048'), { scheme: TPM_ALG.RSAPSS, details: { hashAlg: TPM_ALG.SHA256 } }, TPM_RC.SCHEME],
  ['key NULL, inScheme NULL', withScheme(signingKeyTemplate('rsa2048'), TPM_ALG.NULL), NULL_SCHEME, TPM_RC.SCHEME],
  ['key NULL, inScheme RSAPSS', withScheme(signingKeyTemplate('rsa2048'), TPM_ALG.NULL), { scheme: TPM_ALG.RSAPSS, details: { hashAlg: TPM_ALG.SHA384 } }, 'ok', TPM_ALG.RSAPSS],
  ['key NULL, inScheme ECDSA on an RSA key', withScheme(signingKeyTemplate('rsa2048'), TPM_ALG.NULL), { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } }, TPM_RC.SCHEME],
  ['HMAC key', hmacKeyTemplate(), NULL_SCHEME, 'ok', TPM_ALG.HMAC],
];

test('Certify: signing scheme selection', async () => {
  const { tpm, client } = await startedTpm();
  const subject = await primary(client, storageKeyTemplate('eccP256'));
  const keys = new Map<TPMT_PUBLIC, number>();
  for (const [what, template, inScheme, outcome, sigAlg] of SCHEME_TABLE) {
    const h = keys.get(template) ?? (await primary(client, template)).objectHandle;
    keys.set(template, h);
    const call = client.call(Certify, { objectHandle: subject.objectHandle, signHandle: h }, { qualifyingData: nonce, inScheme }, { auth: [password(), password()] });
    if (outcome === 'ok') {
      const c = await call;
      assert.equal(c.signature.sigAlg, sigAlg, what);
      const a = unmarshal(TPMS_ATTEST, c.certifyInfo);
      assert.equal(a.type, TPM_ST.ATTEST_CERTIFY);
      const obj = tpm.objects.get(subject.objectHandle);
      assert.deepEqual(a.attested, { name: obj.name, qualifiedName: obj.qualifiedName }, what);
      if (sigAlg !== TPM_ALG.HMAC) assert.ok(verifies(tpm, h, c.certifyInfo, c.signature), what);
    } else if (what.includes('ECDSA on an RSA')) {
      await rejects(call, outcome); // found by the signing operation: no parameter named
    } else {
      await rejects(call, outcome, { kind: 'parameter', index: 2 });
    }
  }
});

test('a key that may not sign is TPM_RC_KEY on signHandle; TPM_RH_NULL gives an unsigned attestation', async () => {
  const { client } = await startedTpm();
  const srk = await primary(client, storageKeyTemplate('eccP256'));
  await rejects(
    client.call(Quote, { signHandle: srk.objectHandle }, { qualifyingData: nonce, inScheme: NULL_SCHEME, PCRselect: [] }, { auth: [password()] }),
    TPM_RC.KEY,
    { kind: 'handle', index: 1 },
  );
  // Quote needs a hash for the PCR digest, which a NULL signer has not.
  await rejects(
    client.call(Quote, { signHandle: TPM_RH.NULL }, { qualifyingData: nonce, inScheme: RSASSA256, PCRselect: [] }, { auth: [password()] }),
    TPM_RC.SCHEME,
    { kind: 'parameter', index: 2 },
  );
  const c = await client.call(Certify, { objectHandle: srk.objectHandle, signHandle: TPM_RH.NULL }, { qualifyingData: nonce, inScheme: RSASSA256 }, { auth: [password(), password()] });
  assert.equal(c.signature.sigAlg, TPM_ALG.NULL);
  const a = unmarshal(TPMS_ATTEST, c.certifyInfo);
  assert.deepEqual(a.qualifiedSigner, Buffer.from('40000007', 'hex'));
});

test('GetTime: a signed time stamp under the endorsement hierarchy', async () => {
  const { tpm, client } = await startedTpm();
  const ak = await primary(client, attestationKeyTemplate('rsa2048'), TPM_RH.ENDORSEMENT);
  const t = await client.call(
    GetTime,
    { privacyAdminHandle: TPM_RH.ENDORSEMENT, signHandle: ak.objectHandle },
    { qualifyingData: nonce, inScheme: NULL_SCHEME },
    { auth: [password(), password()] },
  );
  const a = unmarshal(TPMS_ATTEST, t.timeInfo);
  assert.equal(a.type, TPM_ST.ATTEST_TIME);
  const time = a.attested as { time: { time: bigint; clockInfo: { resetCount: number } }; firmwareVersion: bigint };
  assert.ok(time.time.time <= tpm.clock.time());
  assert.equal(time.time.clockInfo.resetCount, tpm.clock.resetCount);
  assert.ok(verifies(tpm, ak.objectHandle, t.timeInfo, t.signature));
});

test('CertifyCreation: the creation ticket must match the object and creationHash', async () => {
  const { tpm, client } = await startedTpm();
  const ak = await primary(client, attestationKeyTemplate('eccP256'), TPM_RH.ENDORSEMENT);
  const obj = await primary(client, signingKeyTemplate('eccP256'));
  const certify = (creationHash: Buffer, creationTicket = obj.creationTicket, objectHandle = obj.objectHandle) =>
    client.call(
      CertifyCreation,
      { signHandle: ak.objectHandle, objectHandle },
      { qualifyingData: nonce, creationHash, inScheme: NULL_SCHEME, creationTicket },
      { auth: [password()] },
    );
  const c = await certify(obj.creationHash);
  const a = unmarshal(TPMS_ATTEST, c.certifyInfo);
  assert.equal(a.type, TPM_ST.ATTEST_CREATION);
  assert.deepEqual(a.attested, { objectName: obj.name, creationHash: obj.creationHash });
  assert.ok(verifies(tpm, ak.objectHandle, c.certifyInfo, c.signature));

  const bent = Buffer.from(obj.creationHash);
  bent[0]! ^= 1;
  await rejects(certify(bent), TPM_RC.TICKET, { kind: 'parameter', index: 4 });
  await rejects(certify(obj.creationHash, { ...obj.creationTicket, hierarchy: TPM_RH.NULL }), TPM_RC.TICKET, { kind: 'parameter', index: 4 });
  await rejects(certify(obj.creationHash, obj.creationTicket, ak.objectHandle), TPM_RC.TICKET, { kind: 'parameter', index: 4 });
});

test('NV_Certify: a slice of the index, or a digest of all of it; reads need NV read access', async () => {
  const { tpm, client } = await startedTpm();
  const ak = await primary(client, attestationKeyTemplate('eccP256'), TPM_RH.ENDORSEMENT);
  const nvIndex = 0x01000010;
  const { OWNERREAD, OWNERWRITE, AUTHREAD, AUTHWRITE } = TPMA_NV;
  await client.call(
    NV_DefineSpace,
    { authHandle: TPM_RH.OWNER },
    {
      auth: Buffer.alloc(0),
      publicInfo: { nvIndex, nameAlg: TPM_ALG.SHA256, attributes: OWNERREAD | OWNERWRITE | AUTHREAD | AUTHWRITE, authPolicy: Buffer.alloc(0), dataSize: 16 },
    },
    { auth: [password()] },
  );
  const certify = (size: number, offset: number) =>
    client.call(
      NV_Certify,
      { signHandle: ak.objectHandle, authHandle: TPM_RH.OWNER, nvIndex },
      { qualifyingData: nonce, inScheme: NULL_SCHEME, size, offset },
      { auth: [password(), password()] },
    );
  await rejects(certify(4, 0), TPM_RC.NV_UNINITIALIZED);
  const data = Buffer.from('0123456789abcdef');
  await client.call(NV_Write, { authHandle: TPM_RH.OWNER, nvIndex }, { data, offset: 0 }, { auth: [password()] });

  const slice = await certify(4, 10);
  const a = unmarshal(TPMS_ATTEST, slice.certifyInfo);
  assert.equal(a.type, TPM_ST.ATTEST_NV);
  assert.deepEqual(a.attested, { indexName: tpm.nv.get(nvIndex).name, offset: 10, nvContents: Buffer.from('abcd') });
  assert.ok(verifies(tpm, ak.objectHandle, slice.certifyInfo, slice.signature));

  const whole = await certify(0, 0);
  const w = unmarshal(TPMS_ATTEST, whole.certifyInfo);
  assert.equal(w.type, TPM_ST.ATTEST_NV_DIGEST);
  assert.deepEqual(w.attested, { indexName: tpm.nv.get(nvIndex).name, nvDigest: digest(TPM_ALG.SHA256, data) });

  await rejects(certify(8, 10), TPM_RC.NV_RANGE);
});
