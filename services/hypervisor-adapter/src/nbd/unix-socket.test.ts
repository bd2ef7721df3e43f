// The NBD server on a Unix socket, as a hypervisor host's QEMU reaches it: real clients (nbdinfo,
// qemu-io) write and read through it; the socket is made 0600 (whoever connects reads the volume's
// plaintext); a socket file left by an adapter that died is replaced, while a live listener or a
// file that is not a socket is refused and left alone; closing removes the socket. Then the CLI,
// `--listen unix:PATH`, from start to SIGTERM.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, lstatSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { EncryptedFileVolume } from '../volume/encrypted-file-volume.js';
import { openTestVolume, runTool, skipWithoutNbdTools, startAdapterProcess, temporaryDirectory } from '../test-kit.fixture.js';
import { silentLogger } from '../logger.js';
import { ExportRegistry } from './export-registry.js';
import { NbdServer } from './nbd-server.js';
import { SocketPathError } from './socket-file.js';

const MiB = 1 << 20;
const urlAt = (socket: string, name: string) => `nbd+unix:///${name}?socket=${socket}`;

describe('NBD on a Unix socket', { skip: skipWithoutNbdTools }, () => {
  const tmp = temporaryDirectory('unix');
  let volume: EncryptedFileVolume;
  const serverOn = () => {
    const exports = new ExportRegistry();
    exports.attach('disk', volume);
    return new NbdServer({ exports, log: silentLogger });
  };

  before(async () => {
    volume = await openTestVolume(path.join(tmp.dir, 'disk'), { size: 8 * MiB });
  });
  after(async () => {
    await volume.close();
    tmp.remove();
  });

  test('qemu-io writes and reads back through it; only the owner may connect; closing removes it', async () => {
    const socket = path.join(tmp.dir, 'vm-1.sock');
    const server = serverOn();
    await server.listenOnSocket(socket);
    try {
      assert.ok(lstatSync(socket).isSocket());
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      assert.equal((await runTool('nbdinfo', ['--size', urlAt(socket, 'disk')])).stdout.trim(), String(8 * MiB));
      const io = await runTool('qemu-io', ['-f', 'raw', urlAt(socket, 'disk'), '-c', 'write -P 0x5a 12345 70000', '-c', 'flush', '-c', 'read -P 0x5a 12345 70000', '-c', 'read -P 0 0 12345']);
      assert.equal(io.code, 0, io.stderr);
      assert.doesNotMatch(io.stdout + io.stderr, /fail|error|mismatch/i);
    } finally {
      await server.close();
    }
    assert.equal(existsSync(socket), false);
  });

  test("a dead adapter's socket file is replaced; a live listener and a file that is not a socket are refused and left alone", async () => {
    // A socket file nobody listens on, as an adapter killed with SIGKILL leaves it.
    const stale = path.join(tmp.dir, 'stale.sock');
    const killed = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(lstatSync(stale).isSocket());
    const server = serverOn();
    await server.listenOnSocket(stale);
    try {
      assert.equal((await runTool('nbdinfo', ['--size', urlAt(stale, 'disk')])).code, 0);
      // The same path while that server listens: refused, and the live socket still serves.
      await assert.rejects(serverOn().listenOnSocket(stale), (e: unknown) => e instanceof SocketPathError && /another server listens on/.test(e.message));
      assert.equal((await runTool('nbdinfo', ['--size', urlAt(stale, 'disk')])).code, 0);
    } finally {
      await server.close();
    }

    const notSocket = path.join(tmp.dir, 'notes.txt');
    writeFileSync(notSocket, 'keep me');
    await assert.rejects(serverOn().listenOnSocket(notSocket), /exists and is not a socket: not removed/);
    assert.equal(readFileSync(notSocket, 'utf8'), 'keep me');
  });

  test('the CLI: --listen unix:PATH serves there, logs the path, and removes the socket on SIGTERM', async () => {
    const socket = path.join(tmp.dir, 'cli.sock');
    const dir = path.join(tmp.dir, 'cli-volume');
    const { child, port, stderr } = await startAdapterProcess(['--volume', `name=vol,dir=${dir},size=4M`], `unix:${socket}`);
    try {
      assert.equal(port, 0);
      assert.ok(stderr().includes(`"socket":${JSON.stringify(socket)}`), stderr());
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      assert.equal((await runTool('nbdinfo', ['--size', urlAt(socket, 'vol')])).stdout.trim(), String(4 * MiB));
    } finally {
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, stderr());
    }
    assert.equal(existsSync(socket), false);
  });
});
