// TPM2_Sign and TPM2_VerifySignature in process: signatures that node:crypto accepts, the
// restricted-key rule (a TPM2_Hash ticket or TPM_RC_TICKET), the VERIFIED ticket, and the
// scheme/signature mismatches as a table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_RC, TPM_RH, TPM_ST } from '../../wire/constants.js';
import type { TPMT_SIGNATURE, TPMT_TK_HASHCHECK } from '../../wire/types/index.js';
import { digest as hash, hmac } from '../../crypto/hash.js';
import { attestationKeyTemplate, signingKeyTemplate, storageKeyTemplate } from '../../client/templates.js';
import { verifiedTicket } from '../../engine/tickets.js';
import { Hash } from '../hash/index.js';
import { Sign, VerifySignature } from './index.js';
import { hmacKeyTemplate, password, primary, rejects, startedTpm, verifies, withScheme } from '../attestation/test-keys.js';

const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };
const NULL_TICKET: TPMT_TK_HASHCHECK = { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) };
const message = Buffer.from('sealkeep signs this');
const d256 = hash(TPM_ALG.SHA256, message);

test('Sign with unrestricted RSA, RSAPSS, ECC and HMAC keys; VerifySignature returns a VERIFIED ticket', async () => {
  const { tpm, client } = await startedTpm();
  const cases: Array<[string, ReturnType<typeof signingKeyTemplate>, number]> = [
    ['rsassa', signingKeyTemplate('rsa2048'), TPM_ALG.RSASSA],
    ['rsapss', withScheme(signingKeyTemplate('rsa2048'), TPM_ALG.RSAPSS), TPM_ALG.RSAPSS],
    ['ecdsa', signingKeyTemplate('eccP256'), TPM_ALG.ECDSA],
    ['hmac', hmacKeyTemplate(), TPM_ALG.HMAC],
  ];
  for (const [what, template, sigAlg] of cases) {
    const key = await primary(client, template);
    const { signature } = await client.call(Sign, { keyHandle: key.objectHandle }, { digest: d256, inScheme: NULL_SCHEME, validation: NULL_TICKET }, { auth: [password()] });
    assert.equal(signature.sigAlg, sigAlg, what);
    if (sigAlg === TPM_ALG.HMAC) {
      const ha = signature.signature as { hashAlg: number; digest: Buffer };
      assert.deepEqual(ha.digest, hmac(TPM_ALG.SHA256, tpm.objects.get(key.objectHandle).sensitive!.sensitive as Buffer, d256), what);
    } else {
      assert.ok(verifies(tpm, key.objectHandle, message, signature), what);
    }
    const { validation } = await client.call(VerifySignature, { keyHandle: key.objectHandle }, { digest: d256, signature });
    assert.deepEqual(validation, verifiedTicket(tpm, TPM_RH.OWNER, d256, key.name), what);
  }
});

test('VerifySignature of a key in the null hierarchy gives a NULL ticket', async () => {
  const { client } = await startedTpm();
  const key = await primary(client, signingKeyTemplate('eccP256'), TPM_RH.NULL);
  const { signature } = await client.call(Sign, { keyHandle: key.objectHandle }, { digest: d256, inScheme: NULL_SCHEME, validation: NULL_TICKET }, { auth: [password()] });
  const { validation } = await client.call(VerifySignature, { keyHandle: key.objectHandle }, { digest: d256, signature });
  assert.deepEqual(validation, { tag: TPM_ST.VERIFIED, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) });
});

test('a restricted key signs only with a TPM2_Hash ticket', async () => {
  const { tpm, client } = await startedTpm();
  const ak = await primary(client, attestationKeyTemplate('rsa2048'), TPM_RH.ENDORSEMENT);
  const sign = (digest: Buffer, validation: TPMT_TK_HASHCHECK) =>
    client.call(Sign, { keyHandle: ak.objectHandle }, { digest, inScheme: NULL_SCHEME, validation }, { auth: [password()] });

  await rejects(sign(d256, NULL_TICKET), TPM_RC.TICKET, { kind: 'parameter', index: 3 });
  const hashed = await client.call(Hash, {}, { data: message, hashAlg: TPM_ALG.SHA256, hierarchy: TPM_RH.ENDORSEMENT });
  const { signature } = await sign(hashed.outHash, hashed.validation);
  assert.ok(verifies(tpm, ak.objectHandle, message, signature));
  // The ticket is for that digest only.
  await rejects(sign(hash(TPM_ALG.SHA256, Buffer.from('other')), hashed.validation), TPM_RC.TICKET, { kind: 'parameter', index: 3 });

  // Data that looks like a TPM-generated structure gets no ticket, so it cannot be signed.
  const forged = Buffer.alloc(64);
  forged.writeUInt32BE(TPM_GENERATED_VALUE);
  const f = await client.call(Hash, {}, { data: forged, hashAlg: TPM_ALG.SHA256, hierarchy: TPM_RH.ENDORSEMENT });
  assert.equal(f.validation.hierarchy, TPM_RH.NULL);
  await rejects(sign(f.outHash, f.validation), TPM_RC.TICKET, { kind: 'parameter', index: 3 });
});

test('Sign: key, scheme and digest errors', async () => {
  const { client } = await startedTpm();
  const rsa = (await primary(client, signingKeyTemplate('rsa2048'))).objectHandle;
  const rsaNull = (await primary(client, withScheme(signingKeyTemplate('rsa2048'), TPM_ALG.NULL))).objectHandle;
  const srk = (await primary(client, storageKeyTemplate('eccP256'))).objectHandle;
  const ecdsa256 = { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } };
  const rsassa384 = { scheme: TPM_ALG.RSASSA, details: { hashAlg: TPM_ALG.SHA384 } };
  const table: Array<[string, number, Buffer, { scheme: number; details: { hashAlg: number } | null }, number, ('parameter' | 'handle')?, number?]> = [
    ['not a signing key', srk, d256, NULL_SCHEME, TPM_RC.KEY, 'handle', 1],
    ['no scheme at all', rsaNull, d256, NULL_SCHEME, TPM_RC.SCHEME, 'parameter', 2],
    ['inScheme conflicts with the key', rsa, d256, rsassa384, TPM_RC.SCHEME, 'parameter', 2],
    ['digest not of the scheme hash', rsa, d256.subarray(0, 20), NULL_SCHEME, TPM_RC.SIZE, 'parameter', 1],
    ['digest size against inScheme', rsaNull, d256, rsassa384, TPM_RC.SIZE, 'parameter', 1],
    ['ECDSA with an RSA key', rsaNull, d256, ecdsa256, TPM_RC.SCHEME],
  ];
  for (const [what, keyHandle, digest, inScheme, rc, kind, index] of table) {
    await rejects(
      client.call(Sign, { keyHandle }, { digest, inScheme, validation: NULL_TICKET }, { auth: [password()] }),
      rc,
      kind ? { kind, index: index! } : undefined,
    ).catch((e) => assert.fail(`${what}: ${e.message}`));
  }
});

test('VerifySignature: bad signatures, mismatched algorithms and non-signing keys', async () => {
  const { client } = await startedTpm();
  const rsa = (await primary(client, signingKeyTemplate('rsa2048'))).objectHandle;
  const ecc = (await primary(client, signingKeyTemplate('eccP256'))).objectHandle;
  const srk = (await primary(client, storageKeyTemplate('eccP256'))).objectHandle;
  const signWith = async (keyHandle: number) =>
    (await client.call(Sign, { keyHandle }, { digest: d256, inScheme: NULL_SCHEME, validation: NULL_TICKET }, { auth: [password()] })).signature;
  const rsaSig = await signWith(rsa);
  const eccSig = await signWith(ecc);
  const bent = (s: TPMT_SIGNATURE): TPMT_SIGNATURE => {
    const copy = structuredClone(s) as TPMT_SIGNATURE;
    const v = copy.signature as { sig?: Buffer; signatureS?: Buffer };
    const b = Buffer.from((v.sig ?? v.signatureS)!);
    b[b.length - 1]! ^= 1;
    if (v.sig) v.sig = b;
    else v.signatureS = b;
    return copy;
  };
  const otherDigest = hash(TPM_ALG.SHA256, Buffer.from('other'));
  const table: Array<[string, number, Buffer, TPMT_SIGNATURE, number, ('parameter' | 'handle'), number]> = [
    ['RSA signature bent', rsa, d256, bent(rsaSig), TPM_RC.SIGNATURE, 'parameter', 2],
    ['ECDSA signature bent', ecc, d256, bent(eccSig), TPM_RC.SIGNATURE, 'parameter', 2],
    ['another digest', rsa, otherDigest, rsaSig, TPM_RC.SIGNATURE, 'parameter', 2],
    ['ECDSA signature on an RSA key', rsa, d256, eccSig, TPM_RC.SCHEME, 'parameter', 2],
    ['RSA signature on an ECC key', ecc, d256, rsaSig, TPM_RC.SCHEME, 'parameter', 2],
    ['not a signing key', srk, d256, eccSig, TPM_RC.ATTRIBUTES, 'handle', 1],
  ];
  for (const [what, keyHandle, digest, signature, rc, kind, index] of table) {
    await rejects(client.call(VerifySignature, { keyHandle }, { digest, signature }), rc, { kind, index }).catch((e) => assert.fail(`${what}: ${e.message}`));
  }
});
