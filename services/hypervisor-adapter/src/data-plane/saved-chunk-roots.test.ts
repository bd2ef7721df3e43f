// A volume of two whole tag chunks and a tail (2^17 + 16 sectors of 4 KiB), through the real
// service: its clean close saves the chunks' roots (tags.roots), and its next open records the
// root composed from them without reading those chunks, then removes the file. A sector rolled
// back at rest in a chunk the open did not read — ciphertext and entry from an earlier close,
// which verify on their own — is found when a request first reaches the chunk: the read fails
// with EIO, the volume stops, the service puts the record back at the clean close (audited
// volume.state-altered, refused in the VM's summary), and the next open, reading every chunk, is
// refused until the officer forgets the record. An alteration no request reaches is found by the
// background check alone. After an unclean end, saved roots put back by the provider are not
// trusted: the service refuses the root composed from them, every chunk is read, and the tags as
// they stand — the state the last checkpoint recorded — are shown and taken.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, openSync, readSync, rmSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { exchangeToken, openBlockSession, openHostPlatform, VolumeStateDiffersError, vmBootLog, type HostPlatform } from '@sealkeep/sdk';
import { loadAdapterKey } from './adapter-key.js';
import { adapterCodeManifest } from './code-manifest.js';
import { HostIdentity } from './host-identity.js';
import { RemoteVm } from './remote-vm.js';
import { serviceWorld, type ServiceWorld } from './service.fixture.js';
import { trustedServiceKey } from './service-key.js';
import { flipByte, recordingLogger, temporaryDirectory } from '../test-kit.fixture.js';
import { ExportRegistry } from '../nbd/export-registry.js';
import { openEncryptedFileVolume } from '../volume/open-volume.js';
import { RemoteSectorCrypto } from '../volume/remote-sector-crypto.js';
import { ROOTS_FILE } from '../volume/chunk-roots.js';
import { CHUNK_SECTORS } from '../volume/tag-chunks.js';
import { TAG_ENTRY_BYTES } from '../volume/sector-state.js';
import type { EncryptedFileVolume } from '../volume/encrypted-file-volume.js';

const S = 4096;
const SECTORS = 2 * CHUNK_SECTORS + 16;
/** A sector in chunk 0, and one in chunk 1. */
const A = 10;
const B = CHUNK_SECTORS + 10;

describe('a large volume opened from the chunk roots of its last clean close', () => {
  const tmp = temporaryDirectory('chunk-roots');
  const log = recordingLogger();
  let w: ServiceWorld;
  let platform: HostPlatform;
  let identity: HostIdentity;
  let ids: { vmId: string; volumeId: string };
  const volumeDir = path.join(tmp.dir, 'disk');
  const rootsFile = path.join(volumeDir, ROOTS_FILE);

  before(async () => {
    const mle = adapterCodeManifest();
    w = await serviceWorld({ mle });
    const approved = await w.approvedVm(tmp.dir, { vmName: 'db-01', volumeName: 'disk', volumeBytes: SECTORS * S });
    ids = { vmId: approved.vmId, volumeId: approved.volumeId };
    platform = await openHostPlatform({ tpm: w.hostTpmDir, hostName: 'host-07', mle });
    const { key: adapterKey } = await loadAdapterKey(path.join(tmp.dir, 'adapter.pem'));
    const serviceKey = await trustedServiceKey({ dataUrl: w.dataUrl, pinFile: path.join(tmp.dir, 'service-key.json'), trustOnFirstUse: true, log });
    identity = await HostIdentity.attest({ platform, dataUrl: w.dataUrl, hostId: w.hostId, adapterKey, serviceKey: serviceKey.key, log });
    // The VM starts measured (its volume created on the way), then stops: the tests open the volume themselves.
    const vm = await RemoteVm.start({
      identity,
      tenantId: w.tenantId,
      vmId: ids.vmId,
      delegation: () => w.delegationFor(identity.label),
      boot: vmBootLog({ configuration: approved.configuration, bootVolumeDigest: approved.bootVolumeDigest, bootVolumeName: 'boot.img' }),
      volumes: [{ name: 'disk', dir: volumeDir, volumeId: ids.volumeId }],
      exports: new ExportRegistry(),
      log,
    });
    await vm.close();
  });
  after(async () => {
    identity?.stop();
    await platform?.close();
    await w?.close();
    tmp.remove();
  });

  const openHere = async (): Promise<EncryptedFileVolume> => {
    const own = await exchangeToken(w.dataUrl, identity.signer(), { subjectToken: await w.delegationFor(identity.label) });
    const session = await openBlockSession({ dataUrl: w.dataUrl, signer: identity.signer(own.accessToken), tenantId: w.tenantId, vmId: ids.vmId, volumeId: ids.volumeId, serviceKey: identity.serviceKey });
    return openEncryptedFileVolume({ dir: volumeDir, uuid: ids.volumeId, crypto: () => new RemoteSectorCrypto(session), log });
  };
  const lastOpen = () => log.entries.filter((e) => e.message === 'volume state recorded at open').at(-1)?.fields;
  const logged = (message: string) => log.entries.filter((e) => e.message === message).length;
  const waitForLog = async (message: string, count: number) => {
    for (let i = 0; i < 300 && logged(message) < count; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(logged(message), count, `logged: ${message}`);
  };
  /** A sector's ciphertext and tag entry as the files hold them, and a way to put them back. */
  const sectorAtRest = (lba: number) => {
    const region = (name: string, at: number, length: number) => ({ file: path.join(volumeDir, name), at, bytes: Buffer.alloc(length) });
    const regions = [region('data', lba * S, S), region('tags', lba * TAG_ENTRY_BYTES, TAG_ENTRY_BYTES)];
    for (const r of regions) {
      const fd = openSync(r.file, 'r');
      readSync(fd, r.bytes, 0, r.bytes.length, r.at);
      closeSync(fd);
    }
    return () => {
      for (const r of regions) {
        const fd = openSync(r.file, 'r+');
        writeSync(fd, r.bytes, 0, r.bytes.length, r.at);
        closeSync(fd);
      }
    };
  };
  const volumeState = async () => {
    const vm = await w.call(w.tenantUrl, w.officer, 'GET', `/v1/tenants/${w.tenantId}/vms/${ids.vmId}`);
    return (vm.volumes as Array<{ state: { status: string; refusedAt: string | null } }>)[0]!.state;
  };
  const forgetState = () => w.call(w.tenantUrl, w.officer, 'DELETE', `/v1/tenants/${w.tenantId}/vms/${ids.vmId}/volumes/${ids.volumeId}/state`);

  test('a clean close saves the chunk roots; the next open adopts them unchecked and removes the file; the data reads back', async () => {
    assert.ok(existsSync(rootsFile), "the VM's clean stop saved them");
    const v = await openHere();
    try {
      assert.deepEqual(lastOpen(), { dir: volumeDir, uuid: ids.volumeId, continuity: 'as-closed', uncheckedChunks: 2 });
      assert.equal(existsSync(rootsFile), false, 'the open removed the file: a crash now leaves none');
      await v.write(A * S, Buffer.alloc(S, 0xa1));
      await v.write(B * S, Buffer.alloc(S, 0xb1));
      assert.ok((await v.read(B * S, S)).equals(Buffer.alloc(S, 0xb1)));
    } finally {
      await v.close();
    }
    assert.ok(existsSync(rootsFile));
  });

  test('a sector rolled back in a chunk the open did not read: the first request there fails with EIO, the volume stops, the service records it, and the next open is refused', async () => {
    const earlier = sectorAtRest(B);
    const v1 = await openHere();
    await v1.write(B * S, Buffer.alloc(S, 0xb2));
    await v1.close();
    earlier(); // the provider puts back sector B as the earlier close left it: it verifies on its own

    const altered = 'volume tags altered at rest: the volume stopped';
    const before = logged(altered);
    const v = await openHere();
    const stopped: string[] = [];
    v.onStopped((reason) => stopped.push(reason));
    try {
      assert.equal(lastOpen()!.continuity, 'as-closed', 'the root composed from the saved roots is the clean close’s');
      await assert.rejects(v.read(B * S, S), (e: Error & { code?: string }) => e.code === 'IO' && /sectors 65536–131071 are not those the volume was last closed with/.test(e.message));
      await waitForLog(altered, before + 1);
      assert.equal(stopped.length, 1, 'whoever serves the volume hears that it stopped');
      await assert.rejects(v.read(A * S, S), /the volume stopped/, 'every request fails from then on');
    } finally {
      await v.close();
    }
    await waitForLog("the alteration recorded with the keys' holder: the volume is refused until its officer forgets the record", 1);
    assert.equal(existsSync(rootsFile), false, 'no clean close: no roots saved');
    const state = await volumeState();
    assert.equal(state.status, 'closed', 'the record is back at the clean close the open matched');
    assert.ok(state.refusedAt);
    const audit = await w.call(w.tenantUrl, w.officer, 'GET', `/v1/tenants/${w.tenantId}/audit`);
    const entries = (audit.lines as string[]).map((l) => JSON.parse(l) as { action: string; outcome: string; actorChain: string[] }).filter((e) => e.action === 'volume.state-altered');
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.outcome, 'failure');
    assert.equal(entries[0]!.actorChain.at(-1), identity.label);

    // Every chunk read at the next open: the files as they stand are not those of the clean close.
    await assert.rejects(openHere(), (e: unknown) => e instanceof VolumeStateDiffersError && e.status === 409);
    // The officer takes the volume as it stands (a restore): it opens, sector B as put back.
    await forgetState();
    const restored = await openHere();
    try {
      assert.equal(lastOpen()!.continuity, 'first');
      assert.ok((await restored.read(B * S, S)).equals(Buffer.alloc(S, 0xb1)));
    } finally {
      await restored.close();
    }
  });

  test('an alteration no request reaches is found by the background check, which stops the volume', async () => {
    const tagByte = [path.join(volumeDir, 'tags'), (B + 5) * TAG_ENTRY_BYTES + 39, 1] as const;
    flipByte(...tagByte);
    const altered = 'volume tags altered at rest: the volume stopped';
    const before = logged(altered);
    const v = await openHere();
    try {
      assert.equal(lastOpen()!.continuity, 'as-closed');
      await waitForLog(altered, before + 1);
      await assert.rejects(v.read(A * S, S), /the volume stopped: the tags of sectors 65536–131071/);
    } finally {
      await v.close();
    }
    // Put right, and the record forgotten, for the next test.
    flipByte(...tagByte);
    await forgetState();
    await (await openHere()).close();
  });

  test('a clean volume is checked whole in the background, and stays served', async () => {
    const done = "every chunk of the volume's tags checked against the roots it was opened with";
    const before = logged(done);
    const v = await openHere();
    try {
      assert.equal(lastOpen()!.continuity, 'as-closed');
      await waitForLog(done, before + 1);
      assert.equal(v.uncheckedChunks, 0);
      assert.ok((await v.read(A * S, S)).equals(Buffer.alloc(S, 0xa1)));
    } finally {
      await v.close();
    }
  });

  test('after an unclean end, saved roots put back by the provider are not trusted: every chunk is read, and the tags as they stand resume from the last checkpoint', async () => {
    const stale = path.join(tmp.dir, 'stale.roots');
    cpSync(rootsFile, stale);
    const v = await openHere();
    await v.write(B * S, Buffer.alloc(S, 0xb3));
    await v.checkpoint();
    // The files as a crash at this point leaves them (written back and synced; the record says served).
    const crashed = path.join(tmp.dir, 'crashed');
    cpSync(volumeDir, crashed, { recursive: true });
    v.stop('the adapter was killed');
    await v.close();
    rmSync(volumeDir, { recursive: true });
    cpSync(crashed, volumeDir, { recursive: true });
    cpSync(stale, rootsFile);

    const distrusted = 'the saved chunk roots were not those of the tags: the tags as they stand are shown';
    const before = logged(distrusted);
    const after = await openHere();
    try {
      assert.equal(logged(distrusted), before + 1);
      assert.equal(lastOpen()!.continuity, 'resumed', 'the state the checkpoint recorded');
      assert.ok((await after.read(B * S, S)).equals(Buffer.alloc(S, 0xb3)), 'no chunk is taken for altered');
    } finally {
      await after.close();
    }
    const again = await openHere();
    try {
      assert.equal(lastOpen()!.continuity, 'as-closed');
      assert.ok((await again.read(B * S, S)).equals(Buffer.alloc(S, 0xb3)));
    } finally {
      await again.close();
    }
  });
});
