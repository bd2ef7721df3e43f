// The command line: sizes, --volume fields, --listen, and one clear line (exit 2) for each mistake;
// the process itself refuses an existing volume without its key (exit 1, one line).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandLineError, parseCommandLine, parseSize, parseVolume } from './cli-options.js';
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
  const line = parseCommandLine(['--listen', '0.0.0.0:10900', '--volume', 'name=a,dir=/a', '--volume', 'name=b,dir=/b', '--log-level', 'debug']);
  assert.deepEqual([line.host, line.port, line.logLevel, line.volumes.map((v) => v.name)], ['0.0.0.0', 10900, 'debug', ['a', 'b']]);
  assert.equal(parseCommandLine(['--listen', '[::1]:10809', '--volume', 'name=a,dir=/a']).host, '::1');
  for (const [args, message] of [
    [[], /at least one --volume/],
    [['--volume', 'name=a,dir=/a', '--volume', 'name=a,dir=/b'], /two volumes named a/],
    [['--volume', 'name=a,dir=/a', '--volume', 'name=b,dir=/a/'], /each volume needs its own directory/],
    [['--volume', 'name=a,dir=/a', '--listen', '10809'], /HOST:PORT/],
    [['--volume', 'name=a,dir=/a', '--log-level', 'loud'], /--log-level/],
    [['--volume'], /needs a value/],
    [['--port', '1'], /unknown argument --port/],
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
