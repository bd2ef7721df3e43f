// Checkpoints: the signed message pinned by a known answer, ES256 (P1363 and DER) and RS256
// signatures verified with node:crypto, and each way a checkpoint can be unsound refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, sign } from 'node:crypto';
import { CheckpointError, checkpointMessage, ecdsaP1363, makeCheckpoint, verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { newAk } from './audit-log.fixture.js';

const head = { seq: 5, hash: 'ab'.repeat(32) };
const clock = { clock: 123456789012n, resetCount: 2, restartCount: 0 };

test('known answer: the AK signs SHA-256 of exactly this canonical text', async () => {
  const literal = `{"headHash":"${'ab'.repeat(32)}","resetCount":2,"restartCount":0,"seq":5,"tpmClock":"123456789012"}`;
  const ak = newAk();
  let seen: { digest: Buffer; message: Buffer } | undefined;
  const cp = await makeCheckpoint(head, clock, async (digest, message) => {
    seen = { digest, message };
    return ak.signer(digest, message);
  }, ak.publicKeyPem);
  assert.equal(seen!.message.toString('utf8'), literal);
  assert.equal(checkpointMessage(cp).toString('utf8'), literal);
  const digest = createHash('sha256').update(literal, 'utf8').digest();
  assert.deepEqual(seen!.digest, digest);
  assert.equal(cp.signedDigest, digest.toString('hex'));
  assert.equal(cp.kind, 'checkpoint');
  assert.equal(cp.tpmClock, '123456789012');
});

test('checkpoints verify for ES256 (r||s and DER) and RS256 AKs', async () => {
  for (const kind of ['es256', 'es256-der', 'rs256'] as const) {
    const ak = newAk(kind);
    const cp = await makeCheckpoint(head, clock, ak.signer, ak.publicKeyPem);
    assert.deepEqual(verifyCheckpoint(cp), { ok: true }, kind);
    if (kind === 'es256') assert.equal(Buffer.from(cp.signature.value, 'base64').length, 64);
  }
  const empty = await makeCheckpoint(null, clock, newAk().signer, newAk().publicKeyPem).catch((e: Error) => e);
  assert.ok(empty instanceof CheckpointError, 'a signer whose key is not the AK given is caught at once');
});

test('each way a checkpoint can be unsound is refused with a reason', async () => {
  const ak = newAk();
  const rsa = newAk('rs256');
  const cp = await makeCheckpoint(head, clock, ak.signer, ak.publicKeyPem);
  const otherSig = sign('sha256', Buffer.from('something else'), { key: ak.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64');
  const cases: Array<[string, Partial<Checkpoint>, RegExp]> = [
    ['a covered field changed', { seq: 6 }, /signedDigest .* is not the digest/],
    ['clock changed', { tpmClock: '123456789013' }, /signedDigest/],
    ['signature over other data', { signature: { alg: 'ES256', value: otherSig } }, /ES256 signature does not verify/],
    ['signature truncated', { signature: { alg: 'ES256', value: Buffer.from(cp.signature.value, 'base64').subarray(0, 63).toString('base64') } }, /does not verify/],
    ['another AK', { akPublicKeyPem: newAk().publicKeyPem }, /does not verify/],
    ['ES256 claimed with an RSA key', { akPublicKeyPem: rsa.publicKeyPem }, /ES256 needs an ECDSA P-256 key, the AK is rsa/],
    ['RS256 claimed with an EC key', { signature: { alg: 'RS256', value: cp.signature.value } }, /RS256 needs an RSA key/],
    ['key that does not parse', { akPublicKeyPem: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' }, /does not parse/],
    ['clock not decimal', { tpmClock: '0x10' }, /tpmClock: must be a UINT64/],
    ['clock over 64 bits', { tpmClock: (2n ** 64n).toString() }, /tpmClock/],
    ['negative resetCount', { resetCount: -1 }, /resetCount: must be a UINT32/],
    ['headHash upper-case', { headHash: 'AB'.repeat(32) }, /headHash/],
  ];
  for (const [name, change, reason] of cases) {
    const r = verifyCheckpoint({ ...cp, ...change });
    assert.equal(r.ok, false, name);
    assert.match((r as { reason: string }).reason, reason, name);
  }
});

test('ecdsaP1363 left-pads the TPM2B components the TPM returns without leading zeros', () => {
  const r = Buffer.from('01'.repeat(31), 'hex');
  const s = Buffer.concat([Buffer.from([0]), Buffer.from('02'.repeat(32), 'hex')]);
  const sig = ecdsaP1363(r, s);
  assert.equal(sig.length, 64);
  assert.deepEqual(sig.subarray(0, 32), Buffer.concat([Buffer.alloc(1), r]));
  assert.deepEqual(sig.subarray(32), Buffer.from('02'.repeat(32), 'hex'));
  assert.throws(() => ecdsaP1363(Buffer.alloc(33, 1), s), CheckpointError);
});
