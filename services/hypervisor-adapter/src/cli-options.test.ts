// The command line: sizes, --volume fields, --listen, and one clear line (exit 2) for each mistake;
// the process itself refuses an existing volume without its key (exit 1, one line).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandLineError, parseCommandLine, parseSize, parseVm, parseVolume } from './cli-options.js';
import { openTestVolume, temporaryDirectory } from './test-kit.fixture.js';

test('sizes: bytes, K/M/G/T as powers of 1024, with or without iB', () => {
  for (const [text, bytes] of [['4096', 4096], ['64M', 64 << 20], ['1G', 2 ** 30], ['2GiB', 2 ** 31], ['512k', 512 << 10], ['1T', 2 ** 40]] as const) {
    assert.equal(parseSize(text), bytes, text);
  }
  for (const text of ['', '1.5G', '-1', 'ten', '64X']) assert.throws(() => parseSize(text), CommandLineError, text);
});

test('--volume fields', () => {
  assert.deepEqual(parseVolume('name=vol1,size=64M,sector=4096,dir=/tmp/x'), { name: 'vol1', dir: '/tmp/x', size: 64 << 20, sectorSize: 4096, readOnly: false });
  assert.deepEqual(parseVolume('name=a,dir=d,key=/k/a.key,readonly,pending=8M,journal=32M'), {
    name: 'a', dir: 'd', keyFile: '/k/a.key', readOnly: true, pendingLimit: 8 << 20, journalLimit: 32 << 20,
  });
  for (const [text, message] of [
    ['dir=/x', /needs name=/],
    ['name=a,dir=d,sector=1024', /512 or 4096/],
    ['name=a,dir=d,colour=blue', /unknown field colour/],
    ['name=a,name=b,dir=d', /name given twice/],
  ] as const) assert.throws(() => parseVolume(text), message);
});

test('the whole command line', () => {
  const line = parseCommandLine(['--listen', '127.0.0.2:10900', '--volume', 'name=a,dir=/a', '--volume', 'name=b,dir=/b', '--log-level', 'debug']);
  assert.deepEqual([line.listen, line.logLevel, line.volumes.map((v) => v.name)], [{ host: '127.0.0.2', port: 10900 }, 'debug', ['a', 'b']]);
  assert.deepEqual(parseCommandLine(['--volume', 'name=a,dir=/a']).listen, { host: '127.0.0.1', port: 10809 });
  assert.deepEqual(parseCommandLine(['--listen', '[::1]:10809', '--volume', 'name=a,dir=/a']).listen, { host: '::1', port: 10809 });
  assert.deepEqual(parseCommandLine(['--listen', 'unix:/run/sealkeep/vm-1.sock', '--volume', 'name=a,dir=/a']).listen, { socketPath: '/run/sealkeep/vm-1.sock' });
  assert.deepEqual(parseCommandLine(['--listen', 'unix:vm-1.sock', '--volume', 'name=a,dir=/a']).listen, { socketPath: path.resolve('vm-1.sock') });
  for (const [args, message] of [
    [[], /at least one --volume/],
    [['--volume', 'name=a,dir=/a', '--volume', 'name=a,dir=/b'], /two volumes named a/],
    [['--volume', 'name=a,dir=/a', '--volume', 'name=b,dir=/a/'], /each volume needs its own directory/],
    [['--volume', 'name=a,dir=/a', '--listen', '10809'], /HOST:PORT or unix:PATH/],
    [['--volume', 'name=a,dir=/a', '--listen', 'unix:'], /needs the socket's path/],
    // An NBD client reads the plaintext unauthenticated: never on an address other hosts reach.
    [['--volume', 'name=a,dir=/a', '--listen', '0.0.0.0:10809'], /loopback address or a Unix socket .*never 0\.0\.0\.0/],
    [['--volume', 'name=a,dir=/a', '--listen', '[::]:10809'], /never ::$/],
    [['--volume', 'name=a,dir=/a', '--listen', '10.0.0.7:10809'], /never 10\.0\.0\.7/],
    [['--volume', 'name=a,dir=/a', '--listen', 'host-07.example:10809'], /never host-07\.example/],
    [['--volume', 'name=a,dir=/a', '--log-level', 'loud'], /--log-level/],
    [['--volume'], /needs a value/],
    [['--port', '1'], /unknown argument --port/],
  ] as const) assert.throws(() => parseCommandLine(args), message, args.join(' '));
});

const T = '11111111-2222-4333-8444-555555555555';
const VM = '66666666-7777-4888-9999-aaaaaaaaaaaa';
const VOL = 'bbbbbbbb-cccc-4ddd-8eee-ffffffffffff';
const HOST = '12345678-1234-4234-8234-123456789abc';
const remote = ['--service', 'http://127.0.0.1:7411/', '--adapter-key', '/k/adapter.pem', '--host-tpm', '/var/lib/host-tpm', '--host-id', HOST];

test('--vm fields: a tenant, a VM, a delegation, and the measured boot as a log or as image and configuration', () => {
  assert.deepEqual(parseVm(`tenant=${T},id=${VM},delegation=/d/tok,boot-log=/b/log.json`), { tenantId: T, vmId: VM, delegationFile: '/d/tok', bootLogFile: '/b/log.json' });
  assert.deepEqual(parseVm(`tenant=${T},id=${VM},delegation=/d/tok,boot-image=/b/img,config=/b/vm.json,kernel=/b/vmlinuz`), {
    tenantId: T, vmId: VM, delegationFile: '/d/tok', bootImage: '/b/img', configFile: '/b/vm.json', kernelFile: '/b/vmlinuz',
  });
  for (const [text, message] of [
    [`tenant=${T},id=${VM},boot-log=/l`, /needs tenant=…, id=… and delegation=FILE/],
    [`tenant=acme,id=${VM},delegation=/d,boot-log=/l`, /tenant must be a UUID/],
    [`tenant=${T},id=${VM},delegation=/d`, /needs its measured boot/],
    [`tenant=${T},id=${VM},delegation=/d,boot-image=/i`, /needs its measured boot/],
    [`tenant=${T},id=${VM},delegation=/d,boot-log=/l,config=/c`, /not both/],
  ] as const) assert.throws(() => parseVm(text), message, text);
});

test('through the data plane: the service, the adapter key, the host TPM and host; volumes name their service id', () => {
  const line = parseCommandLine([...remote, '--vm', `tenant=${T},id=${VM},delegation=/d,boot-log=/l`, '--volume', `name=disk,dir=/v,id=${VOL}`]);
  assert.equal(line.command, 'serve');
  assert.deepEqual(line.service, { dataUrl: 'http://127.0.0.1:7411', adapterKeyFile: '/k/adapter.pem', hostTpm: '/var/lib/host-tpm', hostId: HOST, hostName: line.service!.hostName, connections: 8 });
  assert.equal(line.volumes[0]!.vmId, VM, 'the only VM is the default');
  assert.equal(parseCommandLine(['attest', ...remote, '--host-name', 'host-07']).service!.hostName, 'host-07');
  assert.equal(line.service!.serviceKeyFile, undefined, 'without --service-key, the service key is trusted on first use (over plain HTTP, only with the flag below)');
  assert.equal(parseCommandLine(['attest', ...remote, '--trust-service-key-on-first-use']).service!.trustOnFirstUse, true);
  assert.throws(() => parseCommandLine(['attest', ...remote, '--trust-service-key-on-first-use', '--service-key', '/k/s.json']), /given \(--service-key\) or proven \(--service-root\) already/);
  assert.throws(() => parseCommandLine(['--trust-service-key-on-first-use', '--volume', 'name=a,dir=/a']), /--trust-service-key-on-first-use: only with --service/);
  assert.equal(parseCommandLine(['attest', ...remote, '--service-key', '/k/service-key.json']).service!.serviceKeyFile, '/k/service-key.json');
  assert.throws(() => parseCommandLine(['--service-key', '/k/s.json', '--volume', 'name=a,dir=/a']), /--service-key: only with --service/);
  const proven = ['--service-root', '/t/root.pem', '--service-measurements', '/t/launch.json'];
  assert.deepEqual(parseCommandLine(['attest', ...remote, ...proven]).service!.serviceEvidence, { rootFile: '/t/root.pem', measurementsFile: '/t/launch.json' });
  assert.throws(() => parseCommandLine(['attest', ...remote, '--service-root', '/t/root.pem']), /--service-root and --service-measurements go together/);
  assert.throws(() => parseCommandLine(['attest', ...remote, ...proven, '--service-key', '/k/s.json']), /given \(--service-key\) or proven by its evidence \(--service-root\), not both/);
  assert.deepEqual(parseCommandLine(['host-init', '--host-tpm', 'mssim://127.0.0.1:2321', '--manufacturer', '/ca']).hostTpm, 'mssim://127.0.0.1:2321');
  const vm = ['--vm', `tenant=${T},id=${VM},delegation=/d,boot-log=/l`];
  for (const [args, message] of [
    [['--service', 'http://x:1', '--volume', 'name=a,dir=/a'], /needs --adapter-key, --host-tpm, --host-id/],
    [[...remote, '--volume', `name=a,dir=/a,id=${VOL}`], /at least one --vm/],
    [[...remote, ...vm, '--volume', 'name=a,dir=/a'], /id=VOLUME_ID is needed/],
    [[...remote, ...vm, '--volume', `name=a,dir=/a,id=${VOL},key=/k`], /come from the service/],
    [[...remote, ...vm, '--volume', `name=a,dir=/a,id=${VOL},vm=${T}`], /no --vm with id/],
    [[...remote, ...vm, '--vm', `tenant=${T},id=${T},delegation=/d,boot-log=/l`, '--volume', `name=a,dir=/a,id=${VOL}`], /vm=VM_ID is needed with several --vm/],
    [[...remote, ...vm, '--vm', `tenant=${T},id=${T},delegation=/d,boot-log=/l`, '--volume', `name=a,dir=/a,id=${VOL},vm=${VM}`], /--vm 11111111-.*: no --volume names it/],
    [['--volume', `name=a,dir=/a,id=${VOL}`], /only with --service/],
    [['--host-tpm', '/t', '--volume', 'name=a,dir=/a'], /--host-tpm: only with --service/],
    [['--vm', `tenant=${T},id=${VM},delegation=/d,boot-log=/l`, '--volume', 'name=a,dir=/a'], /--vm: only with --service/],
    [['attest', ...remote.slice(2), '--service', 'ftp://x'], /http or https/],
    [['host-init'], /host-init needs --host-tpm/],
    [[...remote.slice(0, -1), 'host-07', ...vm, '--volume', `name=a,dir=/a,id=${VOL}`], /--host-id must be a UUID/],
  ] as const) assert.throws(() => parseCommandLine(args), message, args.join(' '));
});

test('--control: a socket on which VMs start later (serving may begin with none); the vm command that asks it', () => {
  const served = parseCommandLine([...remote, '--control', 'run/adapter.ctl']);
  assert.equal(served.control, path.resolve('run/adapter.ctl'));
  assert.deepEqual([served.vms, served.volumes], [[], []], 'no --vm, no --volume');
  assert.throws(() => parseCommandLine(['--control', '/c', '--volume', 'name=a,dir=/a']), /--control: only with --service/);
  assert.throws(() => parseCommandLine(['attest', ...remote, '--control', '/c']), /--control: only when serving/);

  assert.deepEqual(parseCommandLine(['vm', 'list', '--control', '/run/a.ctl']), { command: 'vm', vmAction: 'list', control: '/run/a.ctl', listen: { host: '127.0.0.1', port: 10809 }, volumes: [], logLevel: 'info', vms: [] });
  const stop = parseCommandLine(['vm', 'stop', '--control', '/run/a.ctl', '--id', VM.toUpperCase()]);
  assert.equal(stop.vmId, VM, 'a VM id, lower-cased');
  const start = parseCommandLine(['vm', 'start', '--control', '/c', '--vm', `tenant=${T},id=${VM},delegation=d.token,boot-image=img/b.img,config=/etc/c.json`, '--volume', `name=a,dir=vols/a,id=${VOL}`]);
  assert.deepEqual(start.vmFields, {
    vm: `tenant=${T},id=${VM},delegation=${path.resolve('d.token')},boot-image=${path.resolve('img/b.img')},config=/etc/c.json`,
    volumes: [`name=a,dir=${path.resolve('vols/a')},id=${VOL}`],
  }, "sent as given, the paths made absolute: the adapter's working directory is not the caller's");
  for (const [args, message] of [
    [['vm'], /vm: list, start or stop/],
    [['vm', 'list'], /needs --control PATH/],
    [['vm', 'stop', '--control', '/c'], /needs --id VM_ID/],
    [['vm', 'stop', '--control', '/c', '--id', 'web'], /--id must be a UUID/],
    [['vm', 'start', '--control', '/c', '--volume', `name=a,dir=/a,id=${VOL}`], /needs one --vm and its --volume/],
    [['vm', 'list', '--control', '/c', '--id', VM], /vm list: unexpected --id/],
    [['vm', 'list', '--control'], /--control needs a value/],
  ] as const) assert.throws(() => parseCommandLine(args), message, args.join(' '));
});

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', main, ...args], { encoding: 'utf8', timeout: 60_000 });

test('the process: a bad argument or an existing volume without its key is one line on stderr and a non-zero exit', async (t) => {
  const { dir, remove } = temporaryDirectory('cli');
  t.after(remove);
  const bad = run(['--volume', 'name=a']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'sealkeep-hypervisor-adapter: --volume needs name=… and dir=…\n');
  const volume = await openTestVolume(path.join(dir, 'v'), { size: 1 << 20 });
  await volume.close();
  const keyless = run(['--listen', '127.0.0.1:0', '--volume', `name=v,dir=${path.join(dir, 'v')}`]);
  assert.equal(keyless.status, 1);
  assert.match(keyless.stderr, /^sealkeep-hypervisor-adapter: volume v exists in .*: give its key=FILE\n$/);
});
