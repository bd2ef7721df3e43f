// VMs started and stopped on a serving adapter's control socket (serve --control): the adapter
// begins with no VM; a VM started there is served over NBD, one the service refuses answers the
// service's problem (and its export is refused with the reason), a stopped VM's volumes close
// cleanly and its next start opens them as closed, one stopped by its key's end starts again
// once the key is enabled, and nothing else served is touched. The
// socket's own problems (RFC 9457) for bad requests, and the `vm` command against it.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from '../cli-options.js';
import { ExportRegistry } from '../nbd/export-registry.js';
import { NbdServer } from '../nbd/nbd-server.js';
import { recordingLogger, runTool, skipWithoutNbdTools, temporaryDirectory } from '../test-kit.fixture.js';
import { adapterCodeManifest } from './code-manifest.js';
import { attestOnce, serveThroughDataPlane, type RemoteServing } from './commands.js';
import { controlRequest } from './control-client.js';
import { listenForControl, type ControlSocket } from './control-socket.js';
import type { RemoteHost } from './remote-host.js';
import { serviceWorld, type ApprovedVm, type ServiceWorld } from './service.fixture.js';

const MiB = 1 << 20;
const main = fileURLToPath(new URL('../main.ts', import.meta.url));

describe('the control socket: VMs start and stop while the adapter serves', { skip: skipWithoutNbdTools }, () => {
  const tmp = temporaryDirectory('control');
  const log = recordingLogger();
  const socket = path.join(tmp.dir, 'adapter.ctl');
  let w: ServiceWorld;
  let label: string;
  const approved: Record<string, ApprovedVm> = {};
  let serving: RemoteServing | undefined;
  let control: ControlSocket;
  let server: NbdServer;
  let exports: ExportRegistry;
  let nbd: (name: string) => string;

  /** A start request for `name`, with a fresh delegation (each is exchanged once). */
  async function startBody(name: string) {
    const vm = approved[name]!;
    const delegation = path.join(tmp.dir, `${name}-${Math.random().toString(36).slice(2)}.delegation`);
    writeFileSync(delegation, await w.delegationFor(label), { mode: 0o600 });
    return {
      vm: `tenant=${w.tenantId},id=${vm.vmId},delegation=${delegation},boot-image=${vm.bootImage},config=${vm.configFile}`,
      volumes: [`name=${name}-disk,dir=${path.join(tmp.dir, name, 'volume')},id=${vm.volumeId}`],
    };
  }
  const ask = (method: string, p: string, body?: unknown) => controlRequest(socket, method, p, body);
  /** The adapter's own `vm …` command against the socket. */
  async function vmCli(...args: string[]) {
    const child = spawn(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', main, 'vm', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const [code] = (await once(child, 'exit')) as [number];
    return { code, stdout, stderr };
  }

  before(async () => {
    w = await serviceWorld({ mle: adapterCodeManifest() });
    const host = ['--service', w.dataUrl, '--adapter-key', path.join(tmp.dir, 'adapter.pem'), '--trust-service-key-on-first-use', '--host-tpm', w.hostTpmDir, '--host-id', w.hostId, '--host-name', 'host-07'];
    for (const name of ['web', 'db']) {
      mkdirSync(path.join(tmp.dir, name));
      approved[name] = await w.approvedVm(path.join(tmp.dir, name), { vmName: name, volumeName: 'disk', volumeBytes: 4 * MiB });
    }
    writeFileSync(approved.db!.configFile, '{"cpus":64}'); // db no longer boots as its policy says
    label = (await attestOnce(parseCommandLine(['attest', ...host]), log)).label;
    exports = new ExportRegistry();
    const line = parseCommandLine(['serve', '--listen', '127.0.0.1:0', ...host, '--control', socket]);
    assert.equal(line.vms.length, 0, 'serving with --control may begin with no VM');
    serving = await serveThroughDataPlane(line, exports, log);
    control = await listenForControl(socket, serving.host, log);
    server = new NbdServer({ exports, log });
    const { port } = await server.listen(0);
    nbd = (name) => `nbd://127.0.0.1:${port}/${name}`;
  });
  after(async () => {
    await control?.close();
    await server?.close();
    await serving?.close();
    await w?.close();
    tmp.remove();
  });

  test('the socket is the owner\'s alone, and the adapter begins with no VM', async () => {
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    const listed = (await ask('GET', '/v1/vms')).body!;
    assert.deepEqual([listed.vms, listed.refused], [[], []]);
    const host = listed.host as { hostId: string; label: string; attestedUntil: string };
    assert.deepEqual([host.hostId, host.label], [w.hostId, label], "the host's attestation: its id and the adapter's principal");
    assert.ok(Date.parse(host.attestedUntil) > Date.now(), 'attested until a time to come');
  });

  test('a VM started on the socket is served; one the service refuses gets its problem, and its export says why', async () => {
    const started = await ask('POST', '/v1/vms', await startBody('web'));
    assert.equal(started.status, 201, JSON.stringify(started.body));
    assert.equal(started.body!.vmId, approved.web!.vmId);
    assert.deepEqual((started.body!.exports as Array<{ name: string; uncheckedChunks: number }>).map((e) => [e.name, e.uncheckedChunks]), [['web-disk', 0]], 'a volume of less than a chunk: nothing left to check');
    const written = await runTool('qemu-io', ['-f', 'raw', nbd('web-disk'), '-c', 'write -P 0x3c 0 128k', '-c', 'read -P 0x3c 0 128k']);
    assert.doesNotMatch(written.stdout + written.stderr, /failed|error|mismatch/i, written.stdout + written.stderr);

    const refused = await ask('POST', '/v1/vms', await startBody('db'));
    assert.equal(refused.status, 403);
    assert.equal(refused.body!.type, 'https://sealkeep.dev/problems/release-refused');
    assert.equal(refused.body!.condition, 'measurements-differ');
    const told = await runTool('qemu-io', ['-f', 'raw', nbd('db-disk'), '-c', 'read 0 4k']);
    assert.match(told.stderr, /server reported: export "db-disk" is not served: its VM did not start/);
    const listed = (await ask('GET', '/v1/vms')).body!;
    assert.deepEqual((listed.vms as Array<{ vmId: string }>).map((v) => v.vmId), [approved.web!.vmId]);
    assert.deepEqual((listed.refused as Array<{ vmId: string; exports: string[] }>).map((r) => [r.vmId, r.exports]), [[approved.db!.vmId, ['db-disk']]]);
    assert.match((listed.refused as Array<{ error: string }>)[0]!.error, /measurements-differ/);
  });

  test('the socket refuses what it cannot take with a problem, and serves on', async () => {
    const again = await ask('POST', '/v1/vms', await startBody('web'));
    assert.equal(again.status, 409);
    assert.equal(again.body!.type, 'https://sealkeep.dev/problems/conflict');
    assert.match(String(again.body!.detail), /served here already/);
    const relative = await startBody('db');
    relative.volumes = ['name=x,dir=relative/dir,id=' + approved.db!.volumeId];
    const notAbsolute = await ask('POST', '/v1/vms', relative);
    assert.equal(notAbsolute.status, 400);
    assert.match(String(notAbsolute.body!.detail), /paths must be absolute/);
    const missing = await startBody('db');
    missing.vm = missing.vm.replace(/delegation=[^,]+/, `delegation=${path.join(tmp.dir, 'no-such.delegation')}`);
    const noFile = await ask('POST', '/v1/vms', missing);
    assert.equal(noFile.status, 400);
    assert.match(String(noFile.body!.detail), /no-such\.delegation/);
    assert.equal((await ask('POST', '/v1/vms', { vm: 42 })).body!.type, 'https://sealkeep.dev/problems/validation-failed');
    assert.equal((await ask('POST', '/v1/vms', { vm: (await startBody('db')).vm, volumes: [] })).status, 400, 'a VM needs a volume');
    assert.equal((await ask('DELETE', '/v1/vms/00000000-0000-4000-8000-000000000000')).status, 404);
    assert.equal((await ask('PUT', '/v1/vms')).status, 405);
    assert.equal((await ask('GET', '/v1/hosts')).status, 404);
    const read = await runTool('qemu-io', ['-f', 'raw', nbd('web-disk'), '-c', 'read -P 0x3c 0 128k']);
    assert.doesNotMatch(read.stdout + read.stderr, /failed|error|mismatch/i, 'web is still served');
  });

  test('a stopped VM closes cleanly; started again, its volume opens as it was closed and reads back', async () => {
    assert.equal((await ask('DELETE', `/v1/vms/${approved.web!.vmId}`)).status, 204);
    assert.equal(exports.get('web-disk'), undefined);
    assert.equal(exports.refusal('web-disk'), 'its VM was stopped');
    assert.ok(log.entries.some((e) => e.message.startsWith('VM stopped') && e.fields.vmId === approved.web!.vmId));

    const opens = () => log.entries.filter((e) => e.message === 'volume state recorded at open').map((e) => e.fields.continuity);
    const before = opens().length;
    assert.equal((await ask('POST', '/v1/vms', await startBody('web'))).status, 201);
    assert.deepEqual(opens().slice(before), ['as-closed'], 'its state was recorded at the stop');
    const read = await runTool('qemu-io', ['-f', 'raw', nbd('web-disk'), '-c', 'read -P 0x3c 0 128k']);
    assert.doesNotMatch(read.stdout + read.stderr, /failed|error|mismatch/i, read.stdout + read.stderr);
  });

  test('the vm command: list, stop and start against the socket; a refusal is one line and exit 1', async () => {
    const listed = await vmCli('list', '--control', socket);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { vms: Array<{ vmId: string }> }).vms.map((v) => v.vmId), [approved.web!.vmId]);
    const stopped = await vmCli('stop', '--control', socket, '--id', approved.web!.vmId);
    assert.equal(stopped.code, 0, stopped.stderr);
    const body = await startBody('web');
    const started = await vmCli('start', '--control', socket, '--vm', body.vm, '--volume', body.volumes[0]!);
    assert.equal(started.code, 0, started.stderr);
    assert.equal((JSON.parse(started.stdout) as { vmId: string }).vmId, approved.web!.vmId);
    const db = await startBody('db');
    const refused = await vmCli('start', '--control', socket, '--vm', db.vm, '--volume', db.volumes[0]!);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^sealkeep-hypervisor-adapter: vm start: .+ \(https:\/\/sealkeep\.dev\/problems\/release-refused\)\n$/);
    const nobody = await vmCli('list', '--control', path.join(tmp.dir, 'nobody.ctl'));
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /no adapter answers on/);
  });

  test("a VM whose exports stopped while it ran (its key disabled) starts again at once, once the key is released again", async () => {
    const key = `/v1/tenants/${w.tenantId}/keys/${approved.web!.keyId}`;
    await w.call(w.tenantUrl, w.officer, 'POST', `${key}/disable`);
    for (let i = 0; i < 500 && exports.get('web-disk'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(exports.refusal('web-disk'), 'stopped: block session ended (key-disabled)');
    const listed = (await ask('GET', '/v1/vms')).body!;
    assert.deepEqual((listed.vms as Array<{ exports: Array<{ stopped: string }> }>)[0]!.exports.map((e) => e.stopped), ['block session ended (key-disabled)'], 'listed, stopped, with why');

    const refused = await ask('POST', '/v1/vms', await startBody('web'));
    assert.equal(refused.status, 403, 'not a conflict: the stopped VM gives way, and the service refuses the key');
    assert.equal(refused.body!.condition, 'key-not-enabled');
    await w.call(w.tenantUrl, w.officer, 'POST', `${key}/enable`);
    const started = await ask('POST', '/v1/vms', await startBody('web'));
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const read = await runTool('qemu-io', ['-f', 'raw', nbd('web-disk'), '-c', 'read -P 0x3c 0 128k']);
    assert.doesNotMatch(read.stdout + read.stderr, /failed|error|mismatch/i, read.stdout + read.stderr);
  });

  test('stopping the adapter waits for a VM still starting, then stops it with the rest; nothing starts after', async (t) => {
    assert.equal((await ask('DELETE', `/v1/vms/${approved.web!.vmId}`)).status, 204);
    const stops = () => log.entries.filter((e) => e.message.startsWith('VM stopped') && e.fields.vmId === approved.web!.vmId).length;
    const stopsBefore = stops();
    // The signal that the start is under way: the socket has handed it to the host (which now counts
    // it as starting: close() waits for it), and it has not finished.
    const host = serving!.host;
    const startVm = host.startVm.bind(host);
    let handedOver!: () => void;
    const underWay = new Promise<void>((resolve) => (handedOver = resolve));
    let startFinished: boolean | undefined;
    t.mock.method(host, 'startVm', (...args: Parameters<RemoteHost['startVm']>) => {
      const started = startVm(...args);
      if (startFinished === undefined) {
        startFinished = false;
        void started.then(
          () => (startFinished = true),
          () => (startFinished = true),
        );
        handedOver();
      }
      return started;
    });
    const starting = ask('POST', '/v1/vms', await startBody('web'));
    await underWay;
    assert.equal(startFinished, false, 'the start is still under way as the adapter stops');
    const closing = serving!.close();
    const late = await ask('POST', '/v1/vms', await startBody('web'));
    assert.equal(late.status, 409);
    assert.match(String(late.body!.detail), /served here already|stopping/);
    await closing;
    serving = undefined;
    assert.equal((await starting).status, 201, 'the start under way finished');
    assert.equal(exports.get('web-disk'), undefined, 'and was stopped with the rest');
    assert.equal(exports.refusal('web-disk'), 'its VM was stopped');
    assert.equal(stops(), stopsBefore + 1, 'its volumes closed cleanly');
  });
});
