// The quote and the AK in detail: RSA (RSASSA, RSAPSS) and ECDSA AKs, a PEM AK, the magic and
// type of TPMS_ATTEST, qualifiedSigner, an AK that is not a restricted key, AK certificates that
// certify another key or TPM, and an earlier quote after a TPM restart and reset.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TPM_ALG, TPM_RH, TPM_SU, attestationKeyTemplate, commands, marshal, password, publicKeyOfArea, signingKeyTemplate, unmarshal, wire, type TpmClient } from '@sealkeep/tpm';
import { evidenceFixture, type EvidenceFixture } from './evidence.fixture.js';
import type { EvidenceBundle } from './bundle.js';
import { verifyEvidence, type VerifyEvidenceOptions } from './verify.js';

const NONCE = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };
const pw = { auth: [password()] };
const clone = <T>(v: T): T => structuredClone(v);
const ids = async (bundle: unknown, opts: VerifyEvidenceOptions) => (await verifyEvidence(bundle, opts)).findings.map((f) => f.id).sort();

async function primary(client: TpmClient, template: wire.TPMT_PUBLIC, hierarchy: number = TPM_RH.ENDORSEMENT) {
  const inSensitive = { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) };
  return client.call(commands.CreatePrimary, { primaryHandle: hierarchy }, { inSensitive, inPublic: template, outsideInfo: Buffer.alloc(0), creationPCR: [] }, pw);
}

for (const akAlg of ['eccP256', 'rsa2048', 'rsa2048-pss'] as const) {
  test(`a quote by a ${akAlg} AK verifies`, async () => {
    const fx = await evidenceFixture({ akAlg });
    const bundle = await fx.bundle(NONCE);
    const sig = unmarshal(wire.TPMT_SIGNATURE, Buffer.from(bundle.quote.signature, 'base64'));
    assert.equal(sig.sigAlg, { eccP256: TPM_ALG.ECDSA, rsa2048: TPM_ALG.RSASSA, 'rsa2048-pss': TPM_ALG.RSAPSS }[akAlg]);
    assert.deepEqual(await ids(bundle, { trustedRoots: fx.trustedRoots, nonce: NONCE }), ['policy-not-given']);
  });
}

describe('the quote and the AK', () => {
  let fx: EvidenceFixture;
  let good: EvidenceBundle;
  let opts: VerifyEvidenceOptions;
  before(async () => {
    fx = await evidenceFixture();
    good = await fx.bundle(NONCE);
    opts = { trustedRoots: fx.trustedRoots, nonce: NONCE, policy: {} };
  });

  test('a changed magic is named (and breaks the signature)', async () => {
    const b = clone(good);
    const attest = Buffer.from(b.quote.attest, 'base64');
    attest[0] = 0x00;
    b.quote.attest = attest.toString('base64');
    assert.deepEqual(await ids(b, opts), ['quote-magic-invalid', 'quote-signature-invalid']);
  });

  test('another attestation signed by the AK is not a quote', async () => {
    const t = await fx.client.call(commands.GetTime, { privacyAdminHandle: TPM_RH.ENDORSEMENT, signHandle: fx.ak.handle }, { qualifyingData: NONCE, inScheme: NULL_SCHEME }, { auth: [password(), password()] });
    const b = { ...good, quote: { attest: t.timeInfo.toString('base64'), signature: marshal(wire.TPMT_SIGNATURE.plus, t.signature).toString('base64') } };
    assert.deepEqual(await ids(b, opts), ['quote-type-invalid']);
  });

  test('qualifiedSigner: checked against ak.parent, or found among the hierarchies', async () => {
    assert.deepEqual(await ids({ ...good, ak: { ...good.ak, parent: 'owner' } }, opts), ['quote-qualified-signer-mismatch']);
    const { parent: _, ...noParent } = good.ak;
    assert.deepEqual(await ids({ ...good, ak: noParent }, opts), []);
    const pem = fx.ak.key.export({ type: 'spki', format: 'pem' }).toString();
    assert.deepEqual(await ids({ ...good, ak: { ...good.ak, public: pem } }, opts), ['quote-qualified-signer-not-checked']);
  });

  test('a quote by an unrestricted signing key is refused even with its own public key', async () => {
    const key = await primary(fx.client, signingKeyTemplate('eccP256'));
    const q = await fx.client.call(commands.Quote, { signHandle: key.objectHandle }, { qualifyingData: NONCE, inScheme: NULL_SCHEME, PCRselect: [] }, pw);
    const b = {
      ...good,
      pcrs: {},
      quote: { attest: q.quoted.toString('base64'), signature: marshal(wire.TPMT_SIGNATURE.plus, q.signature).toString('base64') },
      ak: { ...good.ak, public: marshal(wire.TPM2B_PUBLIC, key.outPublic).toString('base64') },
    };
    assert.deepEqual(await ids(b, opts), ['ak-attributes-invalid', 'ak-certificate-key-mismatch']);
  });

  test('AK certificates: another key, another TPM, another EK, no signing usage, none at all', async () => {
    const other = publicKeyOfArea((await primary(fx.client, attestationKeyTemplate('eccP256'), TPM_RH.OWNER)).outPublic);
    const withCert = (der: Buffer, chain: string[] = []) => ({ ...good, ak: { ...good.ak, certificate: der.toString('base64'), chain } });
    assert.deepEqual(await ids(withCert(fx.issueAkCertificate({ akPublicKey: other })), opts), ['ak-certificate-key-mismatch']);
    assert.deepEqual(await ids(withCert(fx.issueAkCertificate({ tpm: { ...fx.tpmIdentity, model: 'Other' } })), opts), ['ak-ek-tpm-mismatch']);
    const otherEk = fx.manufacturer.issueEkCertificate({ ekPublicKey: other, tpm: fx.tpmIdentity, specification: { family: '2.0', level: 0, revision: 159 } });
    const boundElsewhere = fx.manufacturer.issueAkCertificate({ akPublicKey: fx.ak.key, ekCertificate: otherEk.der, tpm: fx.tpmIdentity });
    assert.deepEqual(await ids(withCert(boundElsewhere.der), opts), ['ak-ek-binding-mismatch']);
    // A privacy CA's AK certificate (no hardwareModuleName) without digitalSignature.
    const unusable = fx.attestationCa.issueAkCertificate({ akPublicKey: fx.ak.key, subject: 'x', withoutDigitalSignature: true });
    const withCa = { ...opts, trustedRoots: [...fx.trustedRoots, fx.attestationCa.root.pem] };
    assert.deepEqual(await ids(withCert(unusable.der, [fx.attestationCa.issuing.der.toString('base64')]), withCa), ['ak-certificate-key-usage-invalid', 'ak-ek-binding-absent']);
    const { certificate: _, ...uncertified } = good.ak;
    assert.deepEqual(await ids({ ...good, ak: uncertified }, opts), ['ak-certificate-missing']);
  });
});

describe('the clock against an earlier quote', () => {
  let fx: EvidenceFixture;
  const attestNow = async (client: TpmClient, handle: number) =>
    (await client.call(commands.Quote, { signHandle: handle }, { qualifyingData: NONCE, inScheme: NULL_SCHEME, PCRselect: [] }, pw)).quoted;
  before(async () => {
    fx = await evidenceFixture();
  });

  test('forward in time is fine; a quote of another AK cannot be compared', async () => {
    const first = await fx.bundle(Buffer.from('first'));
    const second = await fx.bundle(NONCE);
    const opts = { trustedRoots: fx.trustedRoots, nonce: NONCE, policy: {} };
    assert.deepEqual(await ids(second, { ...opts, previousQuote: first }), []);
    assert.deepEqual(await ids(second, { ...opts, previousQuote: first.quote.attest }), []);
    const otherAk = await primary(fx.client, attestationKeyTemplate('rsa2048'));
    assert.deepEqual(await ids(second, { ...opts, previousQuote: await attestNow(fx.client, otherAk.objectHandle) }), ['previous-quote-unusable']);
    assert.deepEqual(await ids(second, { ...opts, previousQuote: Buffer.from('junk') }), ['previous-quote-unusable']);
  });

  test('restartCount and resetCount that went backwards', async () => {
    const good = await fx.bundle(NONCE);
    const opts = { trustedRoots: fx.trustedRoots, nonce: NONCE, policy: {} };
    // TPM Restart: Shutdown(STATE), then Startup(CLEAR).
    await fx.client.call(commands.Shutdown, {}, { shutdownType: TPM_SU.STATE });
    fx.tpm.init();
    await fx.client.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
    const afterRestart = await attestNow(fx.client, (await primary(fx.client, attestationKeyTemplate('eccP256'))).objectHandle);
    assert.deepEqual(await ids(good, { ...opts, previousQuote: afterRestart }), ['quote-restart-count-regressed']);
    // TPM Reset: no orderly shutdown; the later quote reports its clock unsafe.
    fx.tpm.init();
    await fx.client.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
    const afterReset = await attestNow(fx.client, (await primary(fx.client, attestationKeyTemplate('eccP256'))).objectHandle);
    assert.deepEqual(await ids(good, { ...opts, previousQuote: afterReset }), ['quote-reset-count-regressed']);
  });
});
