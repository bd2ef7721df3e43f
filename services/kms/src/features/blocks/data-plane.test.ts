// The data plane end to end: a VM started on an attested host with its measured boot, its volume
// key released into a block session only when every condition holds, sectors encrypted, signed,
// verified and decrypted through the API — sealed under the session key both ways, so neither a
// request nor an answer carries a sector in the clear, and an unsealed block request is refused —
// a tampered sector named by its LBA, a volume attestation verified offline, and sessions ended by
// a disabled key or a VM restart.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, createPublicKey, randomBytes, verify, X509Certificate } from 'node:crypto';
import { importPublicJwk, merkleRoot, openBody, sessionProofFault, type VolumeStateMoment } from '@sealkeep/crypto';
import request from 'supertest';
import { authorizationHeader } from '@sealkeep/sdk';
import { answerTagOf, bootOf, dataPlane, generations as gens, type DataPlane } from './data-plane.fixture.js';
import { exportChain } from '../../audit/audit-log.js';
import { wrapForImport } from '../keys/keys-api.fixture.js';
import { binaryBodyBytes } from '../../http/binary-body.js';
import { inTenant } from '@sealkeep/store';
import { readVmPcrs, TpmManager } from '@sealkeep/tpm';
import { vtpmIdOf } from '../vms/vm-tpms.js';

let d: DataPlane;
before(async () => {
  d = await dataPlane();
});
after(() => d.close());

test('a VM started in its approved state gets a session; sectors round-trip through encrypt-sign and verify-decrypt', async () => {
  const vm = await d.readyVm();
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.sectorSize, 4096);
  const n = 8;
  const plaintext = randomBytes(4096 * n);
  const enc = await d.blocks(res.body.sessionId, key!, 'encrypt-sign', 3, Buffer.concat([gens(n), plaintext]));
  assert.equal(enc.status, 200, enc.text);
  const out = enc.body as Buffer;
  assert.equal(out.length, n * (4096 + 32));
  const ciphertext = out.subarray(0, 4096 * n);
  const tags = out.subarray(4096 * n);
  assert.ok(!ciphertext.equals(plaintext));
  const dec = await d.blocks(res.body.sessionId, key!, 'verify-decrypt', 3, Buffer.concat([gens(n), ciphertext, tags]));
  assert.equal(dec.status, 200, dec.text);
  assert.ok((dec.body as Buffer).equals(plaintext));

  // The same sectors at another LBA, or with another generation, do not verify.
  const moved = await d.blocks(res.body.sessionId, key!, 'verify', 4, Buffer.concat([gens(n), ciphertext, tags]));
  assert.equal(moved.status, 422);
  const replayed = await d.blocks(res.body.sessionId, key!, 'verify', 3, Buffer.concat([gens(n, 2n), ciphertext, tags]));
  assert.equal(replayed.status, 422);
});

test('a flipped bit in one ciphertext sector fails verification, naming that LBA and no other', async () => {
  const vm = await d.readyVm();
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  const n = 4;
  const enc = (await d.blocks(res.body.sessionId, key!, 'encrypt-sign', 100, Buffer.concat([gens(n), randomBytes(4096 * n)]))).body as Buffer;
  const ciphertext = Buffer.from(enc.subarray(0, 4096 * n));
  ciphertext[2 * 4096 + 17]! ^= 0x01;
  const bad = await d.blocks(res.body.sessionId, key!, 'verify-decrypt', 100, Buffer.concat([gens(n), ciphertext, enc.subarray(4096 * n)]));
  assert.equal(bad.status, 422);
  const problem = JSON.parse((bad.body as Buffer).toString());
  assert.equal(problem.type, 'https://sealkeep.dev/problems/integrity-check-failed');
  assert.deepEqual(problem.lbas, ['102']);
  assert.match(problem.detail, /102/);
});

test('with integrity classified high, plain decrypt and unsigned encrypt are refused', async () => {
  const vm = await d.readyVm({ integrity: 'high' });
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  const dec = await d.blocks(res.body.sessionId, key!, 'decrypt', 0, randomBytes(4096));
  assert.equal(dec.status, 400);
  assert.match(JSON.parse((dec.body as Buffer).toString()).detail, /verify-decrypt/);
  assert.equal((await d.blocks(res.body.sessionId, key!, 'encrypt', 0, randomBytes(4096))).status, 400);
  assert.equal((await d.blocks(res.body.sessionId, key!, 'encrypt-sign', 0, Buffer.concat([gens(1), randomBytes(4096)]))).status, 200);
});

test('a replayed sequence number, a wrong MAC, a batch past the end and a partial sector are refused', async () => {
  const vm = await d.readyVm({ sectors: 16 });
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  const id = res.body.sessionId;
  const body = randomBytes(4096);
  assert.equal((await d.blocks(id, key!, 'encrypt', 0, body, 1)).status, 200);
  assert.equal((await d.blocks(id, key!, 'encrypt', 0, body, 1)).status, 401);
  assert.equal((await d.blocks(id, randomBytes(32), 'encrypt', 0, body, 2)).status, 401);
  assert.equal((await d.blocks(id, key!, 'encrypt', 15, randomBytes(8192), 3)).status, 400);
  assert.equal((await d.blocks(id, key!, 'encrypt', 0, randomBytes(4000), 4)).status, 400);
  assert.equal((await d.blocks(id, key!, 'encrypt', 0, body, 5)).status, 200);
  // Without the session key, a refusal says nothing of the volume: 401, not the size it passed.
  assert.equal((await d.blocks(id, randomBytes(32), 'encrypt', 15, randomBytes(8192), 6)).status, 401);
  assert.equal((await d.blocks(id, key!, 'encrypt', 15, randomBytes(8192), 6)).status, 400); // and seq 6 was not spent by it
});

test("each session's opening is signed by the service key the data plane publishes, over both ECDH points", async () => {
  const vm = await d.readyVm({ sectors: 16 });
  const published = await request(d.dataApp).get('/v1/service-key');
  assert.equal(published.status, 200);
  const serviceKey = importPublicJwk(published.body.jwk);
  assert.equal(published.body.kid, d.tokenKeyId);
  const { res, adapterPoint } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(res.status, 201, res.text);
  const opening = { sid: res.body.sessionId, vol: vm.volumeId, vm: vm.vmId, boot: res.body.bootId, adapter: adapterPoint, service: res.body.serviceEcdhPublicKey };
  assert.equal(sessionProofFault(res.body.sessionProof, serviceKey, opening), null);
  assert.match(sessionProofFault(res.body.sessionProof, serviceKey, { ...opening, service: adapterPoint }) ?? '', /another service/);
});

test('sectors cross the data plane sealed both ways: no plaintext in a request or an answer, ciphertext only authenticated, and an unsealed block request is refused', async () => {
  const vm = await d.readyVm({ sectors: 16 });
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  const id = res.body.sessionId as string;
  const plaintext = Buffer.alloc(4096 * 2, 'a marker the provider must not read ');
  const enc = await d.sealedRequest(id, key!, 'encrypt', 0, plaintext, 1000);
  assert.equal(enc.res.status, 200);
  assert.equal(enc.sent.includes('a marker'), false, 'the request carried ciphertext');
  const ciphertext = Buffer.from(enc.res.body as Buffer);
  // Ciphertext is what the volume's files hold: it crosses authenticated, not encrypted again, and an altered byte fails its seal.
  assert.equal(openBody(key!, 1000, 'answer', 'authenticated', 'POST', enc.url, [ciphertext], answerTagOf(enc.res)), true);
  const altered = Buffer.from(ciphertext);
  altered[4096]! ^= 1;
  assert.equal(openBody(key!, 1000, 'answer', 'authenticated', 'POST', enc.url, [altered], answerTagOf(enc.res)), false);
  const dec = await d.sealedRequest(id, key!, 'decrypt', 0, ciphertext, 1001);
  assert.equal(dec.res.status, 200);
  const raw = dec.res.body as Buffer;
  assert.equal(raw.includes('a marker'), false, 'the answer carried its plaintext sealed');
  const opened = Buffer.from(raw);
  assert.equal(openBody(key!, 1001, 'answer', 'encrypted', 'POST', dec.url, [opened], answerTagOf(dec.res)), true);
  assert.deepEqual(opened, plaintext);
  // The session holder's answer is sealed to its own request: another seq's seal does not open it.
  assert.equal(openBody(key!, 1000, 'answer', 'encrypted', 'POST', dec.url, [Buffer.from(raw)], answerTagOf(dec.res)), false);

  // The adapter's own request proof is good for opening sessions, not for sectors in the clear.
  const url = `/v1/block-sessions/${id}/blocks/encrypt?lba=0`;
  const unsealed = await request(d.dataApp)
    .post(url)
    .set('content-type', 'application/octet-stream')
    .set('authorization', authorizationHeader({ key: d.hv.key, principalId: d.hv.id, method: 'POST', url, body: plaintext }))
    .send(plaintext);
  assert.equal(unsealed.status, 401, unsealed.text);
  assert.match(unsealed.body.detail, /sealed under their session/);
});

test('a changed boot volume or configuration digest means no key: release refused, measurements-differ', async () => {
  for (const changed of [{ volume: 'a patched boot volume' }, { config: '{"cpus":64}' }]) {
    const vm = await d.newVm();
    const approved = bootOf();
    await d.api.call(d.api.officer, 'put', `${d.api.base}/vms/${vm.vmId}/release-policy`, { keyId: vm.kekId, referenceValues: { events: { configuration: approved.configuration, bootVolume: approved.bootVolume } } });
    const started = await d.startVm(vm.vmId, bootOf(changed).events);
    assert.equal(started.body.policyResult, 'mismatch');
    const { res } = await d.openSession(vm.vmId, vm.volumeId);
    assert.equal(res.status, 403);
    assert.equal(res.body.type, 'https://sealkeep.dev/problems/release-refused');
    assert.equal(res.body.condition, 'measurements-differ');
    assert.deepEqual(Object.keys(res.body).sort(), ['condition', 'detail', 'instance', 'status', 'title', 'type'].filter((k) => k in res.body).sort());
  }
});

test('the vTPM itself refuses: a key sealed at one boot does not open after the VM restarts into other measurements', async () => {
  const vm = await d.readyVm();
  const first = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(first.res.status, 201);
  // A VM restarted with another boot volume: even if the policy check were skipped, the vTPM would not unseal.
  await d.startVm(vm.vmId, bootOf({ volume: 'other' }).events);
  const { res } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(res.body.condition, 'measurements-differ');
  // Started again as approved: the same key opens (the sectors it wrote still decrypt).
  await d.startVm(vm.vmId, vm.boot.events);
  assert.equal((await d.openSession(vm.vmId, vm.volumeId)).res.status, 201);
});

test('each release condition is named: vm-not-started, no-release-policy, key-not-enabled; a stale host is refused', async () => {
  const vm = await d.newVm();
  assert.equal((await d.openSession(vm.vmId, vm.volumeId)).res.body.condition, 'vm-not-started');
  await d.startVm(vm.vmId, bootOf().events);
  assert.equal((await d.openSession(vm.vmId, vm.volumeId)).res.body.condition, 'no-release-policy');
  const boot = bootOf();
  await d.api.call(d.api.officer, 'put', `${d.api.base}/vms/${vm.vmId}/release-policy`, { keyId: vm.kekId, referenceValues: { events: { configuration: boot.configuration, bootVolume: boot.bootVolume } } });
  await d.startVm(vm.vmId, boot.events);
  await d.api.call(d.api.officer, 'post', `${d.api.base}/keys/${vm.kekId}/disable`);
  assert.equal((await d.openSession(vm.vmId, vm.volumeId)).res.body.condition, 'key-not-enabled');
  await d.api.call(d.api.officer, 'post', `${d.api.base}/keys/${vm.kekId}/enable`);
  assert.equal((await d.openSession(vm.vmId, vm.volumeId)).res.status, 201);

  const token = await d.hvToken();
  await d.api.f.store.db('hosts').where({ host_id: d.hostId }).update({ attested_until: new Date(Date.now() - 1000) });
  try {
    const { res } = await d.openSession(vm.vmId, vm.volumeId, token);
    assert.equal(res.status, 401);
    assert.equal(res.body.type, 'https://sealkeep.dev/problems/attestation-stale');
    assert.equal((await d.startVm(vm.vmId, boot.events, token)).status, 401);
  } finally {
    await d.api.f.store.db('hosts').where({ host_id: d.hostId }).update({ attested_until: new Date(Date.now() + 3600_000) });
  }
});

test("a VM's vTPM is suspended between operations: a crash of the service leaves its PCRs on disk as the VM's boot set them", async () => {
  const vm = await d.readyVm();
  const { res } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(res.status, 201, res.text);
  // What a restarted service finds after a crash (no orderly stop): the state files as they are.
  const restarted = await TpmManager.open({ dir: d.vtpmDir, platformKey: d.vtpmPlatformKey });
  try {
    const vpcrs = await readVmPcrs((await restarted.get(vtpmIdOf(vm.vmId))).client());
    for (const pcr of [1, 8]) assert.equal(vpcrs[pcr], vm.vpcrs[String(pcr)], `vPCR ${pcr} resumed, not reset`);
    assert.notEqual(vpcrs[1], '00'.repeat(32));
  } finally {
    await restarted.close();
  }
  // The service that stayed up still serves the VM from the same files.
  assert.equal((await d.openSession(vm.vmId, vm.volumeId)).res.status, 201);
});

test('disabling the key or restarting the VM ends open sessions at once; a lapsed host attestation at the next check', async () => {
  const vm = await d.readyVm();
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal((await d.blocks(res.body.sessionId, key!, 'encrypt', 0, randomBytes(4096))).status, 200);
  await d.api.call(d.api.officer, 'post', `${d.api.base}/keys/${vm.kekId}/disable`);
  const after = await d.blocks(res.body.sessionId, key!, 'encrypt', 0, randomBytes(4096));
  assert.equal(after.status, 410);
  assert.equal(JSON.parse((after.body as Buffer).toString()).reason, 'key-disabled');
  const later = await d.blocks(res.body.sessionId, key!, 'encrypt', 0, randomBytes(4096));
  assert.equal(JSON.parse((later.body as Buffer).toString()).reason, 'key-disabled'); // remembered after it ended
  await d.api.call(d.api.officer, 'post', `${d.api.base}/keys/${vm.kekId}/enable`);

  const again = await d.openSession(vm.vmId, vm.volumeId);
  await d.startVm(vm.vmId, vm.boot.events);
  assert.equal(d.sessions.get(again.res.body.sessionId), undefined); // the VM's start ended it at once
  const ended = await d.blocks(again.res.body.sessionId, again.key!, 'encrypt', 0, randomBytes(4096));
  assert.equal(ended.status, 410);
  assert.equal(JSON.parse((ended.body as Buffer).toString()).reason, 'vm-restarted');

  // The host's attestation lapses: its sessions end at the next check.
  const third = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(third.res.status, 201, third.res.text);
  await d.api.f.store.db('hosts').where({ host_id: d.hostId }).update({ attested_until: new Date(Date.now() - 1000) });
  try {
    d.sessions.get(third.res.body.sessionId)!.checkedAt = 0;
    const lapsed = await d.blocks(third.res.body.sessionId, third.key!, 'encrypt', 0, randomBytes(4096));
    assert.equal(lapsed.status, 410);
    assert.equal(JSON.parse((lapsed.body as Buffer).toString()).reason, 'attestation-lapsed');
  } finally {
    await d.api.f.store.db('hosts').where({ host_id: d.hostId }).update({ attested_until: new Date(Date.now() + 3600_000) });
  }
});

test('a volume attestation verifies offline against the AK certificate, and fails once a tag changes', async () => {
  const vm = await d.readyVm({ sectors: 64 });
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  const enc = (await d.blocks(res.body.sessionId, key!, 'encrypt-sign', 0, Buffer.concat([gens(64), randomBytes(4096 * 64)]))).body as Buffer;
  const tags = Buffer.from(enc.subarray(4096 * 64));
  const att = await d.blocks(res.body.sessionId, key!, 'attestation', 0, tags);
  assert.equal(att.status, 200, (att.body as Buffer).toString());
  const a = JSON.parse((att.body as Buffer).toString());
  const statement = Buffer.from(a.statement, 'base64');
  const akKey = new X509Certificate(a.akCertificatePem).publicKey;
  assert.ok(verify('sha256', statement, { key: akKey, dsaEncoding: 'der' }, Buffer.from(a.signature, 'base64')));
  assert.equal(statement.subarray(statement.length - 32).toString('hex'), merkleRoot(tags).toString('hex'));
  assert.equal(a.merkleRoot, merkleRoot(tags).toString('hex'));
  tags[5]! ^= 1;
  assert.notEqual(merkleRoot(tags).toString('hex'), a.merkleRoot);
  assert.ok(createPublicKey(akKey.export({ type: 'spki', format: 'pem' })));
  assert.ok(createHash('sha256').update(statement).digest());
});

test("a volume's recorded state: its first open is the baseline, a clean close's tags must come back at the next open — after an unclean end, tags the recorded state leads to through the journal — other tags are refused and audited until the officer forgets the record", async () => {
  const vm = await d.readyVm({ sectors: 64 });
  const session = async () => {
    const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
    assert.equal(res.status, 201, res.text);
    return { id: res.body.sessionId as string, key: key! };
  };
  const state = async (moment: VolumeStateMoment, tags: Buffer, passedThrough: Buffer[] = []) => {
    const { id, key } = await session();
    return d.volumeState(id, key, moment, merkleRoot(tags), passedThrough.map(merkleRoot));
  };
  const continuity = async (moment: VolumeStateMoment, tags: Buffer, passedThrough: Buffer[] = []) => {
    const { res, answer } = await state(moment, tags, passedThrough);
    assert.equal(res.status, 200, String(res.body));
    assert.equal(answer!.merkleRoot.toString('hex'), merkleRoot(tags).toString('hex'));
    return answer!.continuity;
  };
  const unwritten = Buffer.alloc(64 * 32);
  const s1 = await session();
  const enc = (await d.blocks(s1.id, s1.key, 'encrypt-sign', 0, Buffer.concat([gens(8), randomBytes(4096 * 8)]))).body as Buffer;
  const written = Buffer.concat([enc.subarray(4096 * 8), unwritten.subarray(8 * 32)]);

  assert.equal(await continuity('opened', unwritten), 'first');
  assert.equal(await continuity('closed', written), 'recorded');
  assert.equal(await continuity('opened', written), 'as-closed');
  // Served since, never closed (its adapter killed): the next open must show a state that the one
  // recorded leads to through the journal — its replay passed through the recorded root.
  const problemOf = (res: { body: unknown }) => JSON.parse((res.body as Buffer).toString());
  const unled = await state('opened', unwritten);
  assert.equal(unled.res.status, 409);
  assert.deepEqual([problemOf(unled.res).recordedAs, problemOf(unled.res).recordedRoot], ['served', merkleRoot(written).toString('hex')]);
  assert.equal((await state('opened', unwritten, [unwritten])).res.status, 409, 'a replay that passed through another state is refused too');
  assert.equal(await continuity('opened', unwritten, [written]), 'resumed');
  // A checkpoint moves the record on while the volume is served; the next open resumes from it, not from the open before.
  assert.equal(await continuity('checkpoint', written), 'recorded');
  assert.equal((await state('opened', written, [unwritten])).res.status, 200, 'the same root as recorded needs no replay');
  assert.equal(await continuity('checkpoint', unwritten), 'recorded');
  assert.equal((await state('opened', written, [written])).res.status, 409, 'the open before the checkpoint is not the record any more');
  assert.equal(await continuity('opened', written, [unwritten]), 'resumed');
  const resumed = (await exportChain(d.api.f.store.db, d.api.tenantId)).map((l) => JSON.parse(l)).filter((e) => e.action === 'volume.state-opened' && e.resource === `volume:${vm.volumeId}` && e.details.continuity === 'resumed');
  assert.equal(resumed.at(-1).details.resumedFromHash, merkleRoot(unwritten).toString('hex'), 'the audit names the recorded state the open resumed from');
  // Only an open names states passed through; a checkpoint of a closed volume is a conflict.
  assert.equal((await state('checkpoint', written, [unwritten])).res.status, 400);

  // Closed with sectors written, then shown again as they were before: rolled back, whatever the replay passed through.
  assert.equal(await continuity('closed', written), 'recorded');
  assert.equal((await state('checkpoint', written)).res.status, 409);
  for (let i = 0; i < 2; i++) {
    const { res } = await state('opened', unwritten, [written]);
    assert.equal(res.status, 409);
    const problem = problemOf(res);
    assert.equal(problem.type, 'https://sealkeep.dev/problems/volume-state-differs');
    assert.equal(problem.recordedRoot, merkleRoot(written).toString('hex'));
    assert.equal(problem.recordedAs, 'closed');
    assert.equal(problem.merkleRoot, merkleRoot(unwritten).toString('hex'));
  }
  const refused = (await exportChain(d.api.f.store.db, d.api.tenantId)).map((l) => JSON.parse(l)).filter((e) => e.action === 'volume.state-opened' && e.resource === `volume:${vm.volumeId}` && e.outcome === 'failure');
  assert.equal(refused.length, 5);
  assert.equal(refused.at(-1).details.recordedRootHash, merkleRoot(written).toString('hex'));
  assert.deepEqual(refused.at(-1).actorChain, ['tn:bob-vm-owner', 'cms:vcloud-svc', 'hv:vpxuser@host-07']);
  const row = () => inTenant(d.api.f.store.db, d.api.tenantId, (trx) => trx('volume_states').where({ volume_id: vm.volumeId }).first());
  assert.ok((await row()).refused_at, "the refusal is kept for reviewers' scans");
  assert.equal((await row()).status, 'closed', 'and the record as the close left it');
  const stateShown = async () => (await d.api.call(d.api.officer, 'get', `${d.api.base}/vms/${vm.vmId}`)).body.volumes[0].state;
  const shown = await stateShown();
  assert.equal(shown.status, 'closed');
  assert.equal(shown.openedAs, 'resumed', "the officer sees the last open that succeeded…");
  assert.ok(shown.refusedAt, '…and the refused one');

  // A body that is not a root is refused; so is a request proof instead of the session's seal.
  const s2 = await session();
  assert.equal((await d.volumeState(s2.id, s2.key, 'opened', merkleRoot(unwritten).subarray(1))).res.status, 400);
  const { id } = await session();
  const url = `/v1/block-sessions/${id}/volume-state?moment=opened`;
  const root = merkleRoot(unwritten);
  const unsealed = await request(d.dataApp).post(url).set('content-type', 'application/octet-stream').set('authorization', authorizationHeader({ key: d.hv.key, principalId: d.hv.id, method: 'POST', url, body: root })).send(root);
  assert.equal(unsealed.status, 401, unsealed.text);

  // The officer restored the volume from a backup: the record is forgotten, and the next open is the baseline.
  const forget = `${d.api.base}/vms/${vm.vmId}/volumes/${vm.volumeId}/state`;
  assert.equal((await d.api.f.call(d.tenantApp, d.api.user, 'delete', forget)).status, 403);
  const forgotten = await d.api.f.call(d.tenantApp, d.api.officer, 'delete', forget);
  assert.equal(forgotten.status, 200, forgotten.text);
  assert.deepEqual(forgotten.body, { volumeId: vm.volumeId, forgotten: true });
  assert.equal(await continuity('opened', unwritten), 'first');
  assert.equal((await row()).refused_at, null);
  assert.equal((await row()).opened_as, 'first');
  assert.deepEqual({ ...(await stateShown()), recordedAt: 'then' }, { status: 'served', recordedAt: 'then', openedAs: 'first', refusedAt: null });
});

/** A volume's state recorded through a new session each time, and its row as the service keeps it. */
function stateOf(vm: { vmId: string; volumeId: string }) {
  const record = async (moment: VolumeStateMoment, root: Buffer) => {
    const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
    assert.equal(res.status, 201, res.text);
    return d.volumeState(res.body.sessionId, key!, moment, root);
  };
  const row = () => inTenant(d.api.f.store.db, d.api.tenantId, (trx) => trx('volume_states').where({ volume_id: vm.volumeId }).first());
  return { record, row };
}

test('tags found altered after an open that matched the clean close put the record back at that close, refused and audited, so the next open of the files as they stand is refused', async () => {
  const vm = await d.readyVm({ sectors: 64 });
  const { record, row } = stateOf(vm);
  const closed = randomBytes(32);
  assert.equal((await record('opened', closed)).answer!.continuity, 'first');
  assert.equal((await record('closed', closed)).answer!.continuity, 'recorded');
  assert.equal((await record('opened', closed)).answer!.continuity, 'as-closed');

  const altered = await record('altered', closed);
  assert.equal(altered.res.status, 200);
  assert.deepEqual(altered.answer, { continuity: 'altered', merkleRoot: closed });
  assert.equal((await row()).status, 'closed', 'the record is back at the close the open matched');
  assert.ok((await row()).refused_at, "and the refusal is kept for reviewers' scans");
  const entries = (await exportChain(d.api.f.store.db, d.api.tenantId)).map((l) => JSON.parse(l)).filter((e) => e.action === 'volume.state-altered');
  assert.equal(entries.length, 1);
  assert.equal(entries[0].outcome, 'failure');
  const { sessionId, ...details } = entries[0].details;
  assert.match(sessionId, /^[A-Za-z0-9_-]{22}$/, 'the session that reported it');
  assert.deepEqual(details, { continuity: 'altered', merkleRootHash: closed.toString('hex'), reverted: true });

  // The files as they now stand (the sessions' writes since, the altered chunk) are refused at the next open; the clean close's root is not.
  assert.equal((await record('opened', randomBytes(32))).res.status, 409);
  assert.equal((await record('opened', closed)).answer!.continuity, 'as-closed');
  // Reported against a record that moved on (another root served): refused and audited, the record left as it is.
  assert.equal((await record('altered', randomBytes(32))).answer!.continuity, 'altered');
  assert.equal((await row()).status, 'served');
  assert.ok((await row()).refused_at);
});

test("a record an earlier version left (a root over the tags alone) is not compared with a state root: the next open is the new baseline, audited as earlier-root; a checkpoint with no record is a baseline too, audited", async () => {
  const vm = await d.readyVm({ sectors: 64 });
  const { record, row } = stateOf(vm);
  const entries = async (action: string) => (await exportChain(d.api.f.store.db, d.api.tenantId)).map((l) => JSON.parse(l)).filter((e) => e.action === action && e.resource === `volume:${vm.volumeId}`);
  const tagsRoot = randomBytes(32);
  const stateRoot = randomBytes(32);
  assert.equal((await record('opened', tagsRoot)).answer!.continuity, 'first');
  assert.equal((await record('closed', tagsRoot)).answer!.continuity, 'recorded');
  assert.equal((await row()).root_kind, 'state-1', 'what this version records');
  // As the rows are after migration 0013: every earlier record holds a root over the tags alone.
  await inTenant(d.api.f.store.db, d.api.tenantId, (trx) => trx('volume_states').where({ volume_id: vm.volumeId }).update({ root_kind: 'tags' }));
  assert.equal((await record('opened', stateRoot)).answer!.continuity, 'earlier-root');
  assert.deepEqual({ ...(await row()), recorded_at: null }, { ...(await row()), recorded_at: null, opened_as: 'earlier-root', root_kind: 'state-1', refused_at: null });
  const opened = (await entries('volume.state-opened')).at(-1);
  assert.equal(opened.outcome, 'success');
  assert.deepEqual([opened.details.continuity, opened.details.recordedAs, opened.details.recordedRootHash], ['earlier-root', 'closed', tagsRoot.toString('hex')]);
  // From then on the record is compared as any other.
  assert.equal((await record('opened', tagsRoot)).res.status, 409);

  // The officer forgets the record while the volume is served: its next checkpoint is the baseline, and audited.
  assert.equal((await d.api.f.call(d.tenantApp, d.api.officer, 'delete', `${d.api.base}/vms/${vm.vmId}/volumes/${vm.volumeId}/state`)).status, 200);
  assert.equal((await record('checkpoint', stateRoot)).answer!.continuity, 'first');
  const checkpoints = await entries('volume.state-checkpoint');
  assert.equal(checkpoints.length, 1, 'only the checkpoint that made the baseline is audited');
  assert.deepEqual([checkpoints[0].details.continuity, checkpoints[0].details.merkleRootHash], ['first', stateRoot.toString('hex')]);
  assert.equal((await record('checkpoint', tagsRoot)).answer!.continuity, 'recorded');
  assert.equal((await entries('volume.state-checkpoint')).length, 1);
});

test("every block batch is audited once per batch with the session's delegation chain, never with data", async () => {
  const vm = await d.readyVm();
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  for (let i = 0; i < 3; i++) await d.blocks(res.body.sessionId, key!, 'encrypt', i, randomBytes(4096));
  await d.sessions.end(res.body.sessionId, 'closed');
  const lines = (await exportChain(d.api.f.store.db, d.api.tenantId)).map((l) => JSON.parse(l));
  const mine = lines.filter((e) => e.action === 'block.batch' && e.details.sessionId === res.body.sessionId);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].details.requests, 3);
  assert.equal(mine[0].details.encryptSectors, 3);
  assert.equal(mine[0].details.ended, 'closed');
  assert.deepEqual(mine[0].actorChain, ['tn:bob-vm-owner', 'cms:vcloud-svc', 'hv:vpxuser@host-07']);
});

test("a tenant's own volume key (BYOK): imported through an import job, sealed like a generated one, and the sectors are the tenant's XTS", async () => {
  const vm = await d.newVm();
  const boot = bootOf();
  await d.api.call(d.api.officer, 'put', `${d.api.base}/vms/${vm.vmId}/release-policy`, { keyId: vm.kekId, referenceValues: { events: { configuration: boot.configuration, bootVolume: boot.bootVolume } } });
  const newJob = () => d.api.f.call(d.tenantApp, d.api.officer, 'post', `${d.api.base}/import-jobs`, { keyName: `volume-${vm.volumeId}`, keyType: 'volume-key' });
  const xtsKey = randomBytes(64);
  const dek = Buffer.concat([xtsKey, randomBytes(32)]);
  const url = `${d.api.base}/vms/${vm.vmId}/volumes/${vm.volumeId}/key`;

  // A token for a volume key does not import an ordinary key, and a DEK of the wrong shape fails as one answer.
  const created = await newJob();
  assert.equal(created.status, 201, created.text);
  const job1 = created.body;
  const asKey = await d.api.call(d.api.officer, 'post', `${d.api.base}/keys/import`, { importToken: job1.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey: wrapForImport(job1.wrappingKey.spkiPem, dek, 'rsa-aes-key-wrap-sha256').toString('base64') });
  assert.equal(asKey.body.type, 'https://sealkeep.dev/problems/import-token-invalid');
  const short = await d.api.f.call(d.tenantApp, d.api.officer, 'post', url, { importToken: job1.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey: wrapForImport(job1.wrappingKey.spkiPem, dek.subarray(0, 64), 'rsa-aes-key-wrap-sha256').toString('base64') });
  assert.equal(short.body.type, 'https://sealkeep.dev/problems/import-failed');
  assert.equal((await d.api.f.call(d.tenantApp, d.api.user, 'post', url, { importToken: job1.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey: 'AAAA' })).status, 403);

  const imported = await d.api.f.call(d.tenantApp, d.api.officer, 'post', url, { importToken: job1.importToken, wrappingAlgorithm: 'rsa-aes-key-wrap-sha256', wrappedKey: wrapForImport(job1.wrappingKey.spkiPem, dek, 'rsa-aes-key-wrap-sha256').toString('base64') });
  assert.equal(imported.status, 201, imported.text);
  assert.equal((await newJob()).status, 409); // the volume keeps its first key

  await d.startVm(vm.vmId, boot.events);
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(res.status, 201, res.text);
  const plaintext = randomBytes(4096);
  const enc = (await d.blocks(res.body.sessionId, key!, 'encrypt', 7, plaintext)).body as Buffer;
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64LE(7n);
  const c = createCipheriv('aes-256-xts', xtsKey, iv);
  assert.ok(enc.equals(Buffer.concat([c.update(plaintext), c.final()])));
});

test('the sweep ends a session nobody uses, and one whose key was disabled where no request saw it', async () => {
  const vm = await d.readyVm();
  const idle = await d.openSession(vm.vmId, vm.volumeId);
  const busy = await d.openSession(vm.vmId, vm.volumeId);
  d.sessions.get(idle.res.body.sessionId)!.usedAt = Date.now() - 16 * 60_000;
  await d.sessions.sweep();
  assert.equal(d.sessions.get(idle.res.body.sessionId), undefined);
  assert.equal(d.sessions.endedBecause(idle.res.body.sessionId), 'idle');
  assert.ok(d.sessions.get(busy.res.body.sessionId));
  // Disabled behind this process's back (as another node would): the next sweep's check ends it.
  await d.api.f.store.db('keys').where({ key_id: vm.kekId }).update({ state: 'disabled' });
  d.sessions.get(busy.res.body.sessionId)!.checkedAt = 0;
  await d.sessions.sweep();
  assert.equal(d.sessions.endedBecause(busy.res.body.sessionId), 'key-disabled');
  await d.api.f.store.db('keys').where({ key_id: vm.kekId }).update({ state: 'enabled' });
});

test("a block request waits, unread, while binary bodies fill their budget, and runs once room comes back", async () => {
  const vm = await d.readyVm();
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(res.status, 201, res.text);
  binaryBodyBytes.take(binaryBodyBytes.limit - binaryBodyBytes.used, true); // as if other tenants' batches held it all
  const held = binaryBodyBytes.used;
  let answered = false;
  const request = d.blocks(res.body.sessionId, key!, 'encrypt-sign', 0, Buffer.concat([gens(32), randomBytes(32 * 4096)])).then((r) => { // past a JSON request's size: held in the budget
    answered = true;
    return r;
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(answered, false, 'not read while there is no room');
  binaryBodyBytes.give(held);
  const enc = await request;
  assert.equal(enc.status, 200, enc.text);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(binaryBodyBytes.used, 0, 'its bytes given back once answered');
});
