// The adapter serving a volume through the real service (in this process, on real ports): the
// host attests with its emulated TPM, bob's delegation reaches the adapter through the cloud
// management delegate, the VM starts measured, the volume's key stays in the service and every
// sector goes through a block session, whose opening is proven by the service key the adapter
// pinned on first use (another key is refused). qemu-io and nbdcopy write and read it; the backing
// files hold no plaintext, and neither does anything that crossed the data plane (a relay stands
// where the provider's network does; an answer altered there fails that read with EIO, and the
// next read is served); the audit names bob > cms > hv for the block requests; a VM booted unlike
// its policy gets no key (the refusal names measurements-differ); when the tenant's officer
// disables the key the export stops within the session recheck period (reads fail, the export is
// gone), and once the key is enabled again a new session reads everything back intact; a copy of
// the volume from an earlier close, put back, is refused at its next open until the officer
// forgets the volume's recorded state.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exchangeToken, openBlockSession, openHostPlatform, ReleaseRefusedError, ServiceIdentityError, VolumeStateDiffersError, vmBootLog, vmReferenceValues, type HostPlatform } from '@sealkeep/sdk';
import { newKeyPair, publicJwk } from '@sealkeep/crypto';
import { loadAdapterKey } from './adapter-key.js';
import { adapterCodeManifest } from './code-manifest.js';
import { HostIdentity } from './host-identity.js';
import { RemoteVm } from './remote-vm.js';
import { serviceWorld, type ServiceWorld } from './service.fixture.js';
import { crossed, wireTap, type WireTap } from './wire-tap.fixture.js';
import { FirstKeyOverPlainHttp, trustedServiceKey } from './service-key.js';
import { recordingLogger, runTool, skipWithoutNbdTools, temporaryDirectory } from '../test-kit.fixture.js';
import { ExportRegistry } from '../nbd/export-registry.js';
import { NbdServer } from '../nbd/nbd-server.js';
import { openEncryptedFileVolume } from '../volume/open-volume.js';
import { RemoteSectorCrypto } from '../volume/remote-sector-crypto.js';

const MiB = 1 << 20;
const MARKER = Buffer.from('SEALKEEP-PLAINTEXT-MARKER-7f3a9c');

describe('a volume served through the data plane', { skip: skipWithoutNbdTools }, () => {
  const tmp = temporaryDirectory('remote');
  const log = recordingLogger();
  let w: ServiceWorld;
  let tap: WireTap;
  let platform: HostPlatform;
  let identity: HostIdentity;
  let vm: RemoteVm;
  let server: NbdServer;
  let exports: ExportRegistry;
  /** Where the adapter reads the VM's delegation: a fresh one each time, as the cloud-management layer keeps it. */
  let delegations = () => w.delegationFor(identity.label);
  let url: (name: string) => string;
  let ids: { vmId: string; volumeId: string; keyId: string };
  let firstAttestedUntil = 0;
  const volumeDir = path.join(tmp.dir, 'disk');
  const pinFile = () => path.join(tmp.dir, 'service-key.json');

  before(async () => {
    const mle = adapterCodeManifest();
    w = await serviceWorld({ mle });
    tap = await wireTap(w.dataUrl);
    // bob registers the VM and its volume; alice (the officer) makes the key and the release policy.
    const approved = await w.approvedVm(tmp.dir, { vmName: 'web-01', volumeName: 'disk', volumeBytes: 16 * MiB });
    const { vmId, volumeId, configuration, bootVolumeDigest } = approved;
    ids = { vmId, volumeId, keyId: approved.keyId };

    platform = await openHostPlatform({ tpm: w.hostTpmDir, hostName: 'host-07', mle });
    const { key: adapterKey } = await loadAdapterKey(path.join(tmp.dir, 'adapter.pem'));
    // Over plain HTTP with no key known yet, the first key presented is taken only when the operator says so.
    await assert.rejects(trustedServiceKey({ dataUrl: tap.url, pinFile: pinFile(), log }), FirstKeyOverPlainHttp);
    assert.equal(existsSync(pinFile()), false, 'nothing pinned');
    const serviceKey = await trustedServiceKey({ dataUrl: tap.url, pinFile: pinFile(), trustOnFirstUse: true, log });
    identity = await HostIdentity.attest({ platform, dataUrl: tap.url, hostId: w.hostId, adapterKey, serviceKey: serviceKey.key, log, renewAt: 0.05 });
    firstAttestedUntil = identity.attestedUntil.getTime();
    exports = new ExportRegistry();
    vm = await RemoteVm.start({
      identity,
      tenantId: w.tenantId,
      vmId,
      delegation: () => delegations(),
      boot: vmBootLog({ configuration, bootVolumeDigest, bootVolumeName: 'boot.img' }),
      volumes: [{ name: 'disk', dir: volumeDir, volumeId }],
      exports,
      log,
    });
    server = new NbdServer({ exports, log });
    const { port } = await server.listen(0);
    url = (name) => `nbd://127.0.0.1:${port}/${name}`;
  });
  after(async () => {
    await server?.close();
    await vm?.close();
    identity?.stop();
    await platform?.close();
    await tap?.close();
    await w?.close();
    tmp.remove();
  });

  const qemuIo = async (...commands: string[]) => {
    const result = await runTool('qemu-io', ['-f', 'raw', url('disk'), ...commands.flatMap((c) => ['-c', c])]);
    return { ...result, failed: result.code !== 0 || /failed|error/i.test(result.stdout + result.stderr) };
  };

  test('the VM started in its approved state and the volume took the service geometry and id', () => {
    assert.equal(vm.boot.policyResult, 'match');
    assert.match(identity.label, /^hv:host-07-/);
    const served = vm.volumes[0]!;
    assert.equal(served.crypto.session.integrity, 'high');
    assert.equal(served.volume.size, 16 * MiB);
    assert.equal(served.volume.uuid, ids.volumeId);
    const metadata = JSON.parse(readFileSync(path.join(volumeDir, 'volume.json'), 'utf8')) as { keyCheckLba?: string };
    assert.equal(metadata.keyCheckLba, '0', 'the key check sits inside the volume, where the data plane reaches');
  });

  test('the service key was trusted on first use (over plain HTTP only when told to) and pinned; a service presenting another key is refused before a session opens', async () => {
    const pinned = JSON.parse(readFileSync(pinFile(), 'utf8')) as { kid: string };
    assert.equal(pinned.kid, (await trustedServiceKey({ dataUrl: w.dataUrl, pinFile: pinFile(), log })).kid, 'the pin holds on the next start, with no word from the operator');
    assert.ok(log.entries.some((e) => e.message.startsWith('trusted the service key on first use') && e.fields.kid === pinned.kid));
    const otherFile = path.join(tmp.dir, 'other-service-key.json');
    writeFileSync(otherFile, JSON.stringify(publicJwk(newKeyPair('ec', { namedCurve: 'P-256' }).publicKey)));
    await assert.rejects(trustedServiceKey({ dataUrl: w.dataUrl, givenFile: otherFile, pinFile: pinFile(), log }), (e: unknown) => e instanceof ServiceIdentityError && e.message.includes(pinned.kid));
    // Asked to prove the key by its evidence, a service that has none (no measured start here) is refused, pin or no pin.
    const approved = path.join(tmp.dir, 'approved.json');
    writeFileSync(approved, JSON.stringify({ codeDigest: 'ab'.repeat(32), configurationDigest: 'cd'.repeat(32) }));
    writeFileSync(path.join(tmp.dir, 'service-root.pem'), w.api.keys.endorsement?.manufacturerRootPem ?? '');
    const evidence = { rootFile: path.join(tmp.dir, 'service-root.pem'), measurementsFile: approved };
    await assert.rejects(trustedServiceKey({ dataUrl: w.dataUrl, pinFile: pinFile(), log, evidence }), (e: unknown) => e instanceof ServiceIdentityError && /evidence does not prove the service key/.test(e.message));
    // A session whose opening that other key would have to prove is not used.
    const own = await exchangeToken(w.dataUrl, identity.signer(), { subjectToken: await w.delegationFor(identity.label) });
    const opened = openBlockSession({ dataUrl: w.dataUrl, signer: identity.signer(own.accessToken), tenantId: w.tenantId, vmId: ids.vmId, volumeId: ids.volumeId, serviceKey: newKeyPair('ec', { namedCurve: 'P-256' }).publicKey });
    await assert.rejects(opened, (e: unknown) => e instanceof ServiceIdentityError && /another key/.test(e.message));
  });

  test('nbdcopy moves data in and out unchanged; the backing files hold no plaintext', async (t) => {
    const input = Buffer.alloc(4 * MiB);
    for (let at = 0; at < input.length; at += 4096) MARKER.copy(input, at + 100);
    randomBytes(1024).copy(input, 3 * MiB);
    const inFile = path.join(tmp.dir, 'in.raw');
    const outFile = path.join(tmp.dir, 'out.raw');
    writeFileSync(inFile, input);
    const started = Date.now();
    const copyIn = await runTool('nbdcopy', ['--target-is-zero', inFile, url('disk')]);
    assert.equal(copyIn.code, 0, copyIn.stderr);
    const copyOut = await runTool('nbdcopy', [url('disk'), outFile]);
    assert.equal(copyOut.code, 0, copyOut.stderr);
    t.diagnostic(`4 MiB in and 16 MiB out through the data plane (one process) in ${Date.now() - started} ms`);
    assert.ok(readFileSync(outFile).subarray(0, 4 * MiB).equals(input));
    await vm.volumes[0]!.volume.checkpoint();
    for (const name of readdirSync(volumeDir)) {
      assert.equal(readFileSync(path.join(volumeDir, name)).indexOf(MARKER), -1, `${name} holds plaintext`);
    }
    const crossedBytes = (pieces: Buffer[]) => pieces.reduce((n, p) => n + p.length, 0);
    assert.ok(crossedBytes(tap.toService) > 4 * MiB && crossedBytes(tap.toAdapter) > 4 * MiB, 'the sectors went through the relay');
    assert.equal(crossed(tap.toService, MARKER), false, 'plaintext on its way to the service');
    assert.equal(crossed(tap.toAdapter, MARKER), false, 'plaintext on its way back to the adapter');
  });

  test('qemu-io patterns at aligned and unaligned offsets round-trip, and write -z reads zeros', async () => {
    const written = await qemuIo('write -z 0 3M', 'write -P 0xab 0 4k', 'write -P 0xcd 1000 3000', 'write -P 0xef 8191 2', 'write -P 0x11 1M 1M', 'write -z 1052672 8k', 'flush');
    assert.equal(written.failed, false, written.stdout + written.stderr);
    const read = await qemuIo('read -P 0xab 0 1000', 'read -P 0xcd 1000 3000', 'read -P 0xab 4000 96', 'read -P 0 4096 4095', 'read -P 0xef 8191 2', 'read -P 0x11 1M 4k', 'read -P 0 1052672 8k', 'read -P 0x11 1060864 1036288', 'read -P 0 2M 1M');
    assert.equal(read.failed, false, read.stdout + read.stderr);
  });

  test('an answer altered on the network fails that read with EIO, and the next read is served', async () => {
    tap.tamper = true;
    const altered = await qemuIo('read -P 0x11 1060864 64k');
    tap.tamper = false;
    assert.ok(tap.altered > 0, 'the relay altered an answer');
    assert.equal(altered.failed, true, 'an altered answer is not read as data');
    assert.match(altered.stdout + altered.stderr, /Input\/output error/);
    const read = await qemuIo('read -P 0x11 1060864 64k');
    assert.equal(read.failed, false, read.stdout + read.stderr);
  });

  test('a write whose answer (ciphertext and tags, authenticated) is altered on the network fails with EIO and leaves the sectors as they were', async () => {
    tap.tamper = true;
    const before = tap.altered;
    const altered = await qemuIo('write -P 0x22 2M 64k');
    tap.tamper = false;
    assert.ok(tap.altered > before, 'the relay altered an answer');
    assert.equal(altered.failed, true, 'an altered answer is not written');
    assert.match(altered.stdout + altered.stderr, /Input\/output error/);
    const read = await qemuIo('read -P 0 2M 64k', 'write -P 0x22 2M 64k', 'read -P 0x22 2M 64k');
    assert.equal(read.failed, false, read.stdout + read.stderr);
  });

  test("the tenant's audit names the whole delegation chain of the block requests", async () => {
    // Block requests are audited in batches of up to a second: read until one is there (a loaded machine may take longer).
    const auditedBatch = async () => {
      const audit = await w.call(w.tenantUrl, w.officer, 'GET', `/v1/tenants/${w.tenantId}/audit`);
      return (audit.lines as string[]).map((l) => JSON.parse(l) as { action: string; actorChain?: string[] }).find((e) => e.action === 'block.batch');
    };
    let batch = await auditedBatch();
    for (let waited = 0; !batch && waited < 15_000; waited += 250) batch = await new Promise((r) => setTimeout(r, 250)).then(auditedBatch);
    assert.ok(batch, 'a block.batch entry');
    assert.equal(batch.actorChain?.length, 3);
    assert.match(batch.actorChain![0]!, /^tn:/);
    assert.equal(batch.actorChain![1], 'cms:vcloud-svc');
    assert.equal(batch.actorChain![2], identity.label);
  });

  test('the host attests again before its period runs out; the export keeps serving', async () => {
    // Attested for 60 s and renewing after 5 % of it: by now, or within a few seconds, it has attested again.
    const attestedAgain = () => identity.attestedUntil.getTime() > firstAttestedUntil && log.entries.filter((e) => e.message === 'host attested').length >= 2;
    for (let waited = 0; !attestedAgain() && waited < 30_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    assert.ok(identity.attestedUntil.getTime() > firstAttestedUntil, 'attested again');
    assert.ok(log.entries.filter((e) => e.message === 'host attested').length >= 2, 'and logged it');
    identity.stop();
    const read = await qemuIo('read -P 0xab 0 1000');
    assert.equal(read.failed, false, read.stdout + read.stderr);
  });

  test('a VM booted with another configuration than its policy names gets no key: the refusal names the condition, nothing is attached', async () => {
    const reg = await w.call(w.tenantUrl, w.bob, 'POST', `/v1/tenants/${w.tenantId}/vms`, { name: 'web-02' });
    const vmId = reg.vmId as string;
    const vol = await w.call(w.tenantUrl, w.bob, 'POST', `/v1/tenants/${w.tenantId}/vms/${vmId}/volumes`, { name: 'disk', sizeBytes: MiB, sectorSize: 512 });
    const volumeId = (vol.volumes as Array<{ volumeId: string }>)[0]!.volumeId;
    const bootVolumeDigest = createHash('sha256').update('image').digest();
    await w.call(w.tenantUrl, w.officer, 'PUT', `/v1/tenants/${w.tenantId}/vms/${vmId}/release-policy`, { keyId: ids.keyId, referenceValues: vmReferenceValues({ configuration: Buffer.from('{"cpus":2}'), bootVolumeDigest }) });
    const started = RemoteVm.start({
      identity,
      tenantId: w.tenantId,
      vmId,
      delegation: () => w.delegationFor(identity.label),
      boot: vmBootLog({ configuration: Buffer.from('{"cpus":64}'), bootVolumeDigest }),
      volumes: [{ name: 'web-02-disk', dir: path.join(tmp.dir, 'web-02'), volumeId }],
      exports,
      log,
    });
    await assert.rejects(started, (e: unknown) => e instanceof ReleaseRefusedError && e.status === 403 && e.condition === 'measurements-differ');
    assert.equal(exports.get('web-02-disk'), undefined);
  });

  test('a session that only ran out (idle, its node stopping) is renewed at the next request under a fresh delegation: the export goes on, the release checked again', async () => {
    const served = vm.volumes[0]!;
    for (const reason of ['idle', 'service-stopping'] as const) {
      const ended = served.crypto.session;
      await w.sessions.end(ended.id, reason);
      // The service says so on the session's stream, and the adapter hears it with no request waiting.
      const heard = () => log.entries.some((e) => e.message === 'block session ended; a new one opens at the next request' && e.fields.sessionId === ended.id && e.fields.reason === reason);
      for (let i = 0; i < 500 && !heard(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(heard(), `the end (${reason}) is heard before the next request`);
      const read = await runTool('qemu-io', ['-f', 'raw', url('disk'), '-c', 'read -P 0xab 0 1000']);
      assert.equal(read.code, 0, read.stdout + read.stderr);
      assert.doesNotMatch(read.stdout + read.stderr, /failed|error|mismatch/i, `the first read after a session ended (${reason}) is served`);
      assert.notEqual(served.crypto.session.id, ended.id, 'on a new session');
      assert.ok(w.sessions.get(served.crypto.session.id), 'which the service holds: it released the key again');
      assert.equal(exports.get('disk'), served.volume, 'the export is still attached');
    }
    assert.equal(log.entries.filter((e) => e.message === 'block session renewed').length, 2);

    // No fresh delegation where the adapter reads it (a spent one): that request fails, the export stays, the next one renews.
    const spent = await w.delegationFor(identity.label);
    await exchangeToken(w.dataUrl, identity.signer(), { subjectToken: spent });
    delegations = async () => spent;
    await w.sessions.end(served.crypto.session.id, 'idle');
    const refused = await runTool('qemu-io', ['-f', 'raw', url('disk'), '-c', 'read 0 4k']);
    assert.match(refused.stdout + refused.stderr, /Input\/output error/);
    assert.ok(log.entries.some((e) => e.message.startsWith('a new block session could not be opened')));
    assert.equal(exports.get('disk'), served.volume, 'the export is still attached');
    delegations = () => w.delegationFor(identity.label);
    const again = await runTool('qemu-io', ['-f', 'raw', url('disk'), '-c', 'read -P 0xab 0 1000']);
    assert.doesNotMatch(again.stdout + again.stderr, /failed|error|mismatch/i, 'served once a fresh delegation is there');
    assert.ok(!log.entries.some((e) => e.message.startsWith('export stopped')), 'nothing stopped');
  });

  test('the officer disables the key: within the recheck period reads fail and the export is gone; enabled again, everything reads back', async () => {
    await w.call(w.tenantUrl, w.officer, 'POST', `/v1/tenants/${w.tenantId}/keys/${ids.keyId}/disable`);
    const disabledAt = Date.now();
    let failedAfter = -1;
    while (Date.now() - disabledAt < 8_000) {
      const read = await runTool('qemu-io', ['-f', 'raw', url('disk'), '-c', 'read 0 4k']);
      if (read.code !== 0 || /failed|error/i.test(read.stdout + read.stderr)) {
        failedAfter = Date.now() - disabledAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(failedAfter >= 0 && failedAfter <= 6_000, `reads still served ${Date.now() - disabledAt} ms after the key was disabled`);
    assert.ok(log.entries.some((e) => e.message.startsWith('export stopped') && e.fields.export === 'disk'), 'the stop is logged');
    assert.equal(exports.get('disk'), undefined, 'the export is detached');
    assert.equal(exports.refusal('disk'), 'stopped: block session ended (key-disabled)', 'and refused with the reason');
    const told = await runTool('qemu-io', ['-f', 'raw', url('disk'), '-c', 'read 0 4k']);
    assert.match(told.stderr, /server reported: export "disk" is not served: stopped: block session ended \(key-disabled\)/, 'a client choosing it is told why');
    const served = vm.volumes[0]!;
    await served.closed;

    // Not corrupted: with the key enabled again, a new session opens the same directory and reads it all back.
    await w.call(w.tenantUrl, w.officer, 'POST', `/v1/tenants/${w.tenantId}/keys/${ids.keyId}/enable`);
    const own = await exchangeToken(w.dataUrl, identity.signer(), { subjectToken: await w.delegationFor(identity.label) });
    const session = await openBlockSession({ dataUrl: w.dataUrl, signer: identity.signer(own.accessToken), tenantId: w.tenantId, vmId: ids.vmId, volumeId: ids.volumeId, serviceKey: identity.serviceKey });
    const reopened = await openEncryptedFileVolume({ dir: volumeDir, uuid: ids.volumeId, crypto: () => new RemoteSectorCrypto(session) });
    try {
      const head = await reopened.read(0, 8192);
      assert.ok(head.subarray(0, 1000).equals(Buffer.alloc(1000, 0xab)));
      assert.ok(head.subarray(1000, 4000).equals(Buffer.alloc(3000, 0xcd)));
      const copied = await reopened.read(3 * MiB, 1024);
      assert.ok(copied.equals(readFileSync(path.join(tmp.dir, 'in.raw')).subarray(3 * MiB, 3 * MiB + 1024)));
    } finally {
      await reopened.close();
    }
  });

  const openHere = async () => {
    const own = await exchangeToken(w.dataUrl, identity.signer(), { subjectToken: await w.delegationFor(identity.label) });
    const session = await openBlockSession({ dataUrl: w.dataUrl, signer: identity.signer(own.accessToken), tenantId: w.tenantId, vmId: ids.vmId, volumeId: ids.volumeId, serviceKey: identity.serviceKey });
    return openEncryptedFileVolume({ dir: volumeDir, uuid: ids.volumeId, crypto: () => new RemoteSectorCrypto(session), log });
  };
  const opened = () => log.entries.filter((e) => e.message === 'volume state recorded at open').map((e) => e.fields.continuity);
  /** The volume directory replaced by a copy of `from`, as the provider (or a crash) leaves it. */
  const putBack = (from: string) => {
    rmSync(volumeDir, { recursive: true });
    cpSync(from, volumeDir, { recursive: true });
  };

  test('a volume rolled back at rest (data, tags and journal copied back from an earlier close) is refused at its next open, and audited; once the officer forgets the record, it opens', async () => {
    // Closed cleanly at the end of the last test: the same files open as they were closed.
    await (await openHere()).close();
    assert.equal(opened().at(-1), 'as-closed');
    const earlier = path.join(tmp.dir, 'disk-earlier');
    cpSync(volumeDir, earlier, { recursive: true });
    const later = await openHere();
    await later.write(0, Buffer.alloc(4096, 0x5a));
    await later.close();

    // The provider puts the earlier copy back: every sector of it verifies, but the volume is refused.
    putBack(earlier);
    await assert.rejects(openHere(), (e: unknown) => e instanceof VolumeStateDiffersError && e.status === 409 && e.recordedRoot !== e.merkleRoot && /rolled back or altered/.test(e.message));
    const audit = await w.call(w.tenantUrl, w.officer, 'GET', `/v1/tenants/${w.tenantId}/audit`);
    const refusals = (audit.lines as string[]).map((l) => JSON.parse(l) as { action: string; outcome: string; actorChain: string[] }).filter((e) => e.action === 'volume.state-opened' && e.outcome === 'failure');
    assert.equal(refusals.length, 1);
    assert.equal(refusals[0]!.actorChain.at(-1), identity.label);

    // The officer says the copy is a restore from a backup: the next open is the volume's new baseline.
    await w.call(w.tenantUrl, w.officer, 'DELETE', `/v1/tenants/${w.tenantId}/vms/${ids.vmId}/volumes/${ids.volumeId}/state`);
    const restored = await openHere();
    try {
      assert.equal(opened().at(-1), 'first');
      assert.ok((await restored.read(0, 1000)).equals(Buffer.alloc(1000, 0xab)), 'the earlier copy, as it was');
    } finally {
      await restored.close();
    }
  });

  test('after an unclean end the next open resumes from the state its last checkpoint recorded, the journal replayed on top; a copy from before that checkpoint is refused', async () => {
    await (await openHere()).close();
    const v = await openHere();
    await v.write(0, Buffer.alloc(4096, 0x11));
    await v.flush();
    const stale = path.join(tmp.dir, 'disk-stale');
    cpSync(volumeDir, stale, { recursive: true }); // (the adapter killed here: the first write in its journal)
    await v.write(8192, Buffer.alloc(4096, 0x33));
    await v.checkpoint(); // recorded with the service: both writes
    await v.write(4096, Buffer.alloc(4096, 0x22));
    await v.flush();
    const crashed = path.join(tmp.dir, 'disk-crashed');
    cpSync(volumeDir, crashed, { recursive: true }); // the adapter killed here: the last write in its journal only
    v.stop('the adapter was killed');
    await v.close();

    // The copy from before the checkpoint: its journal leads from the open to the first write, not to what was recorded.
    putBack(stale);
    await assert.rejects(openHere(), (e: unknown) => e instanceof VolumeStateDiffersError && e.recordedAs === 'served' && /not closed cleanly/.test(e.message));
    // The files as the kill left them: the open shows the state its replay began with, which is the one recorded.
    putBack(crashed);
    const resumed = await openHere();
    try {
      assert.equal(opened().at(-1), 'resumed');
      assert.ok((await resumed.read(0, 3 * 4096)).equals(Buffer.concat([0x11, 0x22, 0x33].map((b) => Buffer.alloc(4096, b)))));
    } finally {
      await resumed.close();
    }
    const audit = await w.call(w.tenantUrl, w.officer, 'GET', `/v1/tenants/${w.tenantId}/audit`);
    const opens = (audit.lines as string[]).map((l) => JSON.parse(l) as { action: string; details: Record<string, unknown> }).filter((e) => e.action === 'volume.state-opened');
    assert.deepEqual(opens.slice(-2).map((e) => e.details.continuity), ['differs', 'resumed']);
    assert.match(String(opens.at(-1)!.details.resumedFromHash), /^[0-9a-f]{64}$/, 'the audit names the recorded state the open resumed from');
  });
});
