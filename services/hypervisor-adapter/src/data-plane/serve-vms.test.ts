// The adapter's `serve` through the data plane with several VMs on one host: each VM stands alone.
// A VM the service refuses (its configuration changed since its policy was written) is logged and
// its export refused with the reason — an NBD client choosing it is told why (NBD_REP_ERR_POLICY) —
// while the host's other VM is served; only when no VM starts does serving fail, with that VM's
// refusal.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ReleaseRefusedError } from '@sealkeep/sdk';
import { parseCommandLine } from '../cli-options.js';
import { ExportRegistry } from '../nbd/export-registry.js';
import { NBD_FLAG_C, NBD_OPT, NBD_REP } from '../nbd/nbd-constants.js';
import { NbdServer } from '../nbd/nbd-server.js';
import { RawNbdClient, infoRequest } from '../nbd/raw-nbd-client.fixture.js';
import { recordingLogger, runTool, skipWithoutNbdTools, temporaryDirectory } from '../test-kit.fixture.js';
import { adapterCodeManifest } from './code-manifest.js';
import { attestOnce, serveThroughDataPlane, type RemoteServing } from './commands.js';
import { serviceWorld, type ApprovedVm, type ServiceWorld } from './service.fixture.js';

const MiB = 1 << 20;

describe('serving several VMs through the data plane', { skip: skipWithoutNbdTools }, () => {
  const tmp = temporaryDirectory('serve-vms');
  const log = recordingLogger();
  let w: ServiceWorld;
  let host: string[];
  /** The adapter's principal label, which delegations name (attested once, before any serving holds the host TPM). */
  let label: string;
  const approved: Record<string, ApprovedVm> = {};
  let serving: RemoteServing | undefined;
  let server: NbdServer | undefined;
  let exports: ExportRegistry;
  let port = 0;

  /** `serve` for the VMs named, each with a fresh delegation of its own (a token is exchanged once). */
  async function serveArgs(names: string[]): Promise<string[]> {
    const args = ['serve', '--listen', '127.0.0.1:0', ...host];
    for (const name of names) {
      const vm = approved[name]!;
      const delegation = path.join(tmp.dir, `${name}-${Date.now()}.delegation`);
      writeFileSync(delegation, await w.delegationFor(label), { mode: 0o600 });
      args.push('--vm', `tenant=${w.tenantId},id=${vm.vmId},delegation=${delegation},boot-image=${vm.bootImage},config=${vm.configFile}`);
      args.push('--volume', `name=${name}-disk,dir=${path.join(tmp.dir, name, 'volume')},id=${vm.volumeId},vm=${vm.vmId}`);
    }
    return args;
  }

  before(async () => {
    w = await serviceWorld({ mle: adapterCodeManifest() });
    host = ['--service', w.dataUrl, '--adapter-key', path.join(tmp.dir, 'adapter.pem'), '--trust-service-key-on-first-use', '--host-tpm', w.hostTpmDir, '--host-id', w.hostId, '--host-name', 'host-07'];
    for (const name of ['web', 'db']) {
      mkdirSync(path.join(tmp.dir, name));
      approved[name] = await w.approvedVm(path.join(tmp.dir, name), { vmName: name, volumeName: 'disk', volumeBytes: 4 * MiB });
    }
    label = (await attestOnce(parseCommandLine(['attest', ...host]), log)).label;
    // db's configuration changes after its policy was written: its boot no longer matches.
    writeFileSync(approved.db!.configFile, '{"cpus":64,"memoryMiB":2048,"secureBoot":false}');

    exports = new ExportRegistry();
    serving = await serveThroughDataPlane(parseCommandLine(await serveArgs(['web', 'db'])), exports, log);
    server = new NbdServer({ exports, log });
    ({ port } = await server.listen(0));
  });
  after(async () => {
    await server?.close();
    await serving?.close();
    await w?.close();
    tmp.remove();
  });

  test("the refused VM is logged with the service's reason; the other VM is served", async () => {
    assert.deepEqual(serving!.host.vms.map((vm) => vm.volumes.map((v) => v.spec.name)), [['web-disk']]);
    assert.equal(serving!.host.refused.length, 1);
    const { vmId, error } = serving!.host.refused[0]!;
    assert.equal(vmId, approved.db!.vmId);
    assert.ok(error instanceof ReleaseRefusedError && error.condition === 'measurements-differ', String(error));
    const logged = log.entries.find((e) => e.message.startsWith('VM not served'));
    assert.ok(logged, 'logged');
    assert.equal(logged.fields.vmId, approved.db!.vmId);
    assert.deepEqual(logged.fields.exports, ['db-disk']);

    const size = await runTool('nbdinfo', ['--size', `nbd://127.0.0.1:${port}/web-disk`]);
    assert.equal(size.code, 0, size.stderr);
    assert.equal(size.stdout.trim(), String(4 * MiB));
    const written = await runTool('qemu-io', ['-f', 'raw', `nbd://127.0.0.1:${port}/web-disk`, '-c', 'write -P 0x5a 0 64k', '-c', 'read -P 0x5a 0 64k']);
    assert.doesNotMatch(written.stdout + written.stderr, /failed|error|mismatch/i, written.stdout + written.stderr);
  });

  test('a client choosing the refused export is told why (NBD_REP_ERR_POLICY); a name never served is unknown', async () => {
    const client = await RawNbdClient.connect(port);
    client.sendClientFlags(NBD_FLAG_C.FIXED_NEWSTYLE | NBD_FLAG_C.NO_ZEROES);
    const refused = await client.option(NBD_OPT.GO, infoRequest('db-disk'));
    assert.deepEqual(refused.map((r) => r.type), [NBD_REP.ERR_POLICY]);
    assert.match(refused[0]!.data.toString('utf8'), /^export "db-disk" is not served: its VM did not start: .*measurements-differ/);
    const info = await client.option(NBD_OPT.INFO, infoRequest('db-disk'));
    assert.deepEqual(info.map((r) => r.type), [NBD_REP.ERR_POLICY]);
    exports.refuse('long-reason', 'é'.repeat(5000)); // 10,000 bytes of UTF-8
    const long = await client.option(NBD_OPT.INFO, infoRequest('long-reason'));
    assert.equal(long[0]!.type, NBD_REP.ERR_POLICY);
    assert.ok(long[0]!.data.length <= 4096 && long[0]!.data.toString('utf8').endsWith('é…'), 'a reason is cut to the 4096 bytes a string may have, at a character');
    const unknown = await client.option(NBD_OPT.GO, infoRequest('no-such-disk'));
    assert.deepEqual(unknown.map((r) => r.type), [NBD_REP.ERR_UNKNOWN]);
    const list = await client.option(NBD_OPT.LIST);
    assert.deepEqual(list.filter((r) => r.type === NBD_REP.SERVER).map((r) => r.data.toString('utf8', 4)), ['web-disk'], 'only what is served is listed');
    client.destroy();

    // QEMU shows the server's words.
    const qemu = await runTool('qemu-io', ['-f', 'raw', `nbd://127.0.0.1:${port}/db-disk`, '-c', 'read 0 4k']);
    assert.notEqual(qemu.code, 0);
    assert.match(qemu.stderr, /not served: its VM did not start/, qemu.stderr);
  });

  test('when no VM starts, serving fails with the refusal and leaves nothing attached', async () => {
    // One adapter holds a host's TPM at a time: the first serving stops before the next starts.
    await server!.close();
    await serving!.close();
    server = serving = undefined;
    const alone = new ExportRegistry();
    await assert.rejects(serveThroughDataPlane(parseCommandLine(await serveArgs(['db'])), alone, log), (e: unknown) => e instanceof ReleaseRefusedError && e.condition === 'measurements-differ');
    assert.deepEqual(alone.names(), []);
  });
});
