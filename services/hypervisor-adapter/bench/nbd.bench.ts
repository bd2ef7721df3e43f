// NBD throughput: 32 MiB of random data copied in and out with nbdcopy, through the adapter
// (AES-256-XTS and an HMAC-SHA-256 tag per 4 KiB sector, every read verified, every write
// journaled) — once with a local key (the crypto in the adapter's process) and once as in
// production, through a block session of the service's data plane (through-service.ts: the service
// and the adapter each in a process of its own) — beside qemu-nbd serving a LUKS image
// (aes-256-xts, plain64; no integrity), qemu-nbd on a raw image (no crypto at all), and nbdkit's
// memory plugin (no crypto and no files: the most nbdcopy itself moves on this machine, a ceiling
// for every server and so for every ratio), all in the same run, each figure the best of ROUNDS
// taken in turn. Last column: the production adapter again, with the data plane over TLS (its
// sealed bodies inside TLS records), what an operator pays for TLS on that plane.
// MB/s = 10^6 bytes per wall-clock second of the whole nbdcopy (its start and handshake included;
// the last row shows that share, per server). Beside it, each server's own CPU time per copy (user
// + system, all threads, from /proc; through the service, the adapter's and the service's together,
// and the adapter's alone — what the hypervisor host pays when the service runs elsewhere; counted
// until the server is quiet again, at least 250 ms after the copy, as the adapter writes a burst
// back in the pause after it), which other load on the machine skews far less. The next copy, of
// any server, starts only then, so no server's copy runs beside another's leftover work.
// Rows: nbdcopy's defaults (4 connections when the server advertises multi-conn, as the adapter
// does and qemu-nbd does not for a writable export), one connection each, copy-in with --flush;
// then 256 MiB in and out with the defaults, on a second set of servers with 256 MiB exports: at
// 32 MiB nbdcopy's own start (~8,600 page faults on fresh memory) and qemu-nbd's handshake take
// much of every copy, at 256 MiB the servers' own speed shows. Every export is as large as its
// copies, so "out" (which reads a whole export) moves what "in" wrote and no server is spared
// reading never-written sectors. Last, what a guest's writes wait for while it keeps writing:
// 512 MiB of 256 KiB writes, 16 in flight, into a fresh 1 GiB export of each server, every write's
// time from request to reply (the tail shows whatever holds writes back, such as a write-back of
// the adapter's journal into its data file). Each row begins with every dirty page written back
// (sync), so that no row pays for the writes of the rows or the warm-up before it. Not a test:
// nothing passes or fails on speed.
//   npm run bench -- hypervisor-adapter          (BENCH_ROUNDS, default 3)

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NBD_CMD } from '../src/nbd/nbd-constants.js';
import { RawNbdClient } from '../src/nbd/raw-nbd-client.fixture.js';
import { throughService } from './through-service.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const COPY_BYTES = 32 << 20;
/** The sustained rows: long enough that nbdcopy's start and qemu-nbd's handshake no longer dominate. */
const SUSTAINED_BYTES = 256 << 20;
/** The latency rows: LATENCY_BYTES written in LATENCY_WRITE requests, LATENCY_DEPTH in flight, into a fresh export of LATENCY_EXPORT. */
const LATENCY_EXPORT = 1 << 30;
const LATENCY_BYTES = 512 << 20;
const LATENCY_WRITE = 256 << 10;
const LATENCY_DEPTH = 16;

const missing = ['nbdcopy', 'nbdinfo', 'qemu-nbd', 'qemu-img', 'nbdkit'].filter((tool) => spawnSync('which', [tool]).status !== 0);
if (missing.length > 0) {
  console.log(`not measured: ${missing.join(', ')} not installed (Debian: apt-get install libnbd-bin qemu-utils nbdkit)`);
  process.exit(0);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-nbd-bench-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const child of children) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});
// Interrupted: the same clean-up (the service processes follow when their channel closes).
process.once('SIGINT', () => process.exit(130));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs a tool without blocking this process; its exit code. */
async function run(command: string, args: string[], quiet = false): Promise<number> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', quiet ? 'ignore' : 'inherit'] });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? -1;
}

/** Starts a server process and waits until its export answers; its pid. */
async function serve(command: string, args: string[], url: string, env = process.env): Promise<number> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  for (let i = 0; i < 600; i++) {
    if ((await run('nbdinfo', ['--size', url], true)) === 0) return child.pid!;
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}`);
    await sleep(100);
  }
  throw new Error(`${command} did not start`);
}

/** CPU milliseconds a process has used so far: utime + stime (proc(5) fields 14, 15), 100 ticks a second. */
function cpuMilliseconds(pid: number): number {
  const afterName = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(afterName[11]) + Number(afterName[12])) * 10;
}

/** How long after a copy its server's CPU is still counted, at least: the adapter writes a burst back in the pause after it. */
const SETTLE_MS = 250;
/** Then until a window this long passes with under one tick (10 ms) of the server's CPU, or SETTLE_MAX_MS. */
const QUIET_MS = 100;
const SETTLE_MAX_MS = 3_000;

/**
 * Waits, after a copy, until the server is quiet: what a copy leaves behind (the adapter writes
 * the burst back, syncs its files and records its state in the pause after it) is counted with
 * that copy and does not run beside the next server's.
 */
async function settled(server: Server, counted = true): Promise<void> {
  const { pids } = server;
  const used = () => pids.reduce((sum, pid) => sum + cpuMilliseconds(pid), 0);
  await sleep(SETTLE_MS);
  const giveUp = performance.now() + SETTLE_MAX_MS;
  for (let before = used(); performance.now() < giveUp; ) {
    await sleep(QUIET_MS);
    const now = used();
    if (now - before < 10) return;
    before = now;
  }
  if (counted) notQuiet.set(server, (notQuiet.get(server) ?? 0) + 1);
}

/** Per server, the timed copies after which it was still busy SETTLE_MAX_MS on: the footer says so. */
const notQuiet = new Map<Server, number>();

/** Wall-clock seconds of one nbdcopy, and each of the server's processes' CPU milliseconds for it (until the server is quiet again: settled). */
async function timeCopy(args: string[], server?: Server, counted = true): Promise<{ seconds: number; cpu: number[] }> {
  const cpu = () => (server ? server.pids.map(cpuMilliseconds) : []);
  const before = cpu();
  const start = process.hrtime.bigint();
  const code = await run('nbdcopy', args);
  if (code !== 0) throw new Error(`nbdcopy ${args.join(' ')}: exit ${code}`);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (server) await settled(server, counted);
  return { seconds, cpu: cpu().map((ms, i) => ms - before[i]!) };
}

/** The servers, in startServers' order: the table's columns. */
const COLUMNS = ['local', 'service', 'LUKS', 'raw', 'no-op', 'TLS'];

/** A server under test: its URL and the processes whose CPU time it uses, the one on the hypervisor host first. */
interface Server {
  url: string;
  pids: number[];
}

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const services: Array<{ close(): Promise<void> }> = [];

/** The six servers, each with an export of `bytes` (files under `dir`/`set`), in the table's column order. */
async function startServers(set: string, bytes: number): Promise<Server[]> {
  const home = path.join(dir, set);
  mkdirSync(home);
  const url = (port: number) => `nbd://127.0.0.1:${port}/bench`;

  // The adapter: its own CLI, a new volume with a local key.
  const adapterPort = await freePort();
  const volume = `name=bench,dir=${path.join(home, 'volume')},size=${bytes},sector=4096,key=${path.join(home, 'volume.key')}`;
  const adapterPid = await serve(
    process.execPath,
    ['--conditions=sealkeep-source', '--import', 'tsx', main, '--log-level', 'error', '--listen', `127.0.0.1:${adapterPort}`, '--volume', volume],
    url(adapterPort),
  );

  // The adapter as in production: through the service's data plane.
  const remotePort = await freePort();
  const service = await throughService(home, 'bench', bytes, remotePort);
  services.push(service);
  const remotePid = await serve(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', main, ...service.serveArgs], url(remotePort));

  // The same, with the data plane over TLS (SEALKEEP_TLS_CERT/_KEY): what TLS costs beside the sealed bodies.
  const tlsPort = await freePort();
  mkdirSync(path.join(home, 'tls'));
  const overTls = await throughService(path.join(home, 'tls'), 'bench', bytes, tlsPort, true);
  services.push(overTls);
  const tlsPid = await serve(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', main, ...overTls.serveArgs], url(tlsPort), overTls.env);

  // qemu-nbd on a LUKS image, AES-256-XTS with plain64 IVs like the adapter. A short PBKDF (it only
  // slows opening); qemu-img fails to time one that is too short on a busy machine, so longer ones follow.
  const secret = `secret,id=sec0,data=${randomBytes(16).toString('hex')}`;
  const luks = path.join(home, 'disk.luks');
  for (const iterTime of [200, 1000, 2000]) {
    const options = `key-secret=sec0,cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64,iter-time=${iterTime}`;
    const created = spawnSync('qemu-img', ['create', '-q', '-f', 'luks', '--object', secret, '-o', options, luks, String(bytes)], { encoding: 'utf8' });
    if (created.status === 0) break;
    if (iterTime === 2000) throw new Error(`qemu-img could not create the LUKS image: ${created.stderr.trim() || created.error}`);
  }
  const luksPort = await freePort();
  const luksPid = await serve(
    'qemu-nbd',
    ['--object', secret, '--image-opts', `driver=luks,key-secret=sec0,file.filename=${luks}`, '-p', String(luksPort), '-b', '127.0.0.1', '-x', 'bench', '-t', '-e', '8'],
    url(luksPort),
  );

  // qemu-nbd on a raw image: the same transport with no cryptography.
  const raw = path.join(home, 'disk.raw');
  writeFileSync(raw, '');
  truncateSync(raw, bytes);
  const rawPort = await freePort();
  const rawPid = await serve('qemu-nbd', ['-f', 'raw', '-p', String(rawPort), '-b', '127.0.0.1', '-x', 'bench', '-t', '-e', '8', raw], url(rawPort));

  // nbdkit's memory plugin: a server that keeps what it is sent in memory and does nothing else
  // (and, like the adapter, allows multi-conn): what nbdcopy alone reaches here.
  const ceilingPort = await freePort();
  const ceilingPid = await serve('nbdkit', ['-f', '-p', String(ceilingPort), '-i', '127.0.0.1', 'memory', String(bytes)], url(ceilingPort));

  return [
    { url: url(adapterPort), pids: [adapterPid] },
    { url: url(remotePort), pids: [remotePid, service.pid] },
    { url: url(luksPort), pids: [luksPid] },
    { url: url(rawPort), pids: [rawPid] },
    { url: url(ceilingPort), pids: [ceilingPid] },
    { url: url(tlsPort), pids: [tlsPid, overTls.pid] },
  ];
}

/** SHA-256 of a file's first `bytes`, read a piece at a time. */
async function digestOf(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file, { end: bytes - 1 })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/**
 * Random data of `bytes` in a file; every server gives it back unchanged before anything is timed,
 * and two copies more warm them up. Written and checked a MiB at a time: this process forks every
 * nbdcopy, and a fork costs by the memory it maps (PERFORMANCE.md, 2026-12-07).
 */
async function sourceFor(servers: Server[], bytes: number): Promise<string> {
  const source = path.join(dir, `random-${bytes}.bin`);
  const hash = createHash('sha256');
  const out = openSync(source, 'w');
  for (let at = 0; at < bytes; at += 1 << 20) {
    const piece = randomBytes(Math.min(1 << 20, bytes - at));
    hash.update(piece);
    writeSync(out, piece);
  }
  closeSync(out);
  const written = hash.digest('hex');
  for (const server of servers) {
    const { url } = server;
    await timeCopy(['--flush', source, url], server, false);
    const back = path.join(dir, 'back.bin');
    await timeCopy([url, back], server, false);
    if ((await digestOf(back, bytes)) !== written) throw new Error(`${url}: the data came back changed`);
    rmSync(back);
    await timeCopy([source, url], server, false);
    await timeCopy([url, 'null:'], server, false);
  }
  return source;
}

/**
 * Writes every dirty page back (sync(1)) before a row: the copies before it leave a few GiB in the
 * page cache, which the kernel would otherwise write back (once 30 s old) under whichever copies
 * came next, the first row's most of all.
 */
function writtenBack(): void {
  spawnSync('sync');
}

const servers = await startServers('copies', COPY_BYTES);
const source = await sourceFor(servers, COPY_BYTES);
const sustained = await startServers('sustained', SUSTAINED_BYTES);
const sustainedSource = await sourceFor(sustained, SUSTAINED_BYTES);

const workloads: Array<{ name: string; servers: Server[]; bytes: number; args: (url: string) => string[] }> = [
  { name: 'in  (nbdcopy defaults)', servers, bytes: COPY_BYTES, args: (url) => [source, url] },
  { name: 'out (nbdcopy defaults)', servers, bytes: COPY_BYTES, args: (url) => [url, 'null:'] },
  { name: 'in  (1 connection)', servers, bytes: COPY_BYTES, args: (url) => ['-C', '1', source, url] },
  { name: 'out (1 connection)', servers, bytes: COPY_BYTES, args: (url) => ['-C', '1', url, 'null:'] },
  { name: 'in  --flush', servers, bytes: COPY_BYTES, args: (url) => ['--flush', source, url] },
  { name: 'in  256 MiB', servers: sustained, bytes: SUSTAINED_BYTES, args: (url) => [sustainedSource, url] },
  { name: 'out 256 MiB', servers: sustained, bytes: SUSTAINED_BYTES, args: (url) => [url, 'null:'] },
];

const column = (values: Array<string | number>, widths: number[]) => values.map((v, i) => String(v).padStart(widths[i]!)).join(' ');
const widths = [22, 6, 8, 6, 5, 7, 6, 6, 8, 8, 6, 6, 8, 5, 6, 6];
console.log(`nbdcopy of 32 MiB (the last two rows: 256 MiB, into and out of 256 MiB exports), best of ${ROUNDS}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
console.log(column(['', 'MB/s', '', '', '', '', '', 'ratio', '', '', '', 'server CPU ms/copy', '', '', '', ''], widths));
console.log(column(['workload'.padEnd(22), 'local', 'service', 'LUKS', 'raw', 'no-op', 'TLS', 'local', 'service', 'no-op', 'TLS', 'local', 'service', 'host', 'LUKS', 'TLS'], widths));
for (const { name, servers, bytes, args } of workloads) {
  writtenBack();
  const best = servers.map(() => Infinity);
  /** Per server, each of its processes' CPU ms per copy (averaged over the rounds), the host's first. */
  const cpu = servers.map((server) => server.pids.map(() => 0));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, server] of servers.entries()) {
      const { seconds, cpu: used } = await timeCopy(args(server.url), server);
      best[i] = Math.min(best[i]!, seconds);
      used.forEach((ms, p) => (cpu[i]![p]! += ms / ROUNDS));
    }
  }
  const mbps = best.map((seconds) => (bytes / seconds / 1e6).toFixed(0));
  const total = (i: number) => cpu[i]!.reduce((a, b) => a + b, 0).toFixed(0);
  // Columns: local, service, LUKS, raw, no-op, TLS (startServers' order); ratios for local,
  // service, no-op and TLS; CPU of local, service (all of it, then the adapter's alone: the
  // host's), LUKS and TLS (adapter and service).
  const ratios = [0, 1, 4, 5].map((i) => (best[2]! / best[i]!).toFixed(2));
  console.log(column([name.padEnd(22), ...mbps, ...ratios, total(0), total(1), cpu[1]![0]!.toFixed(0), total(2), total(5)], widths));
}
console.log("local: the adapter with a local key; service: the adapter through a block session of the service's data plane (CPU: adapter + service)");
console.log("host: of the service column's CPU, the adapter's alone — what the hypervisor host pays when the service runs elsewhere, as in production");
console.log("no-op: nbdkit's memory plugin, no crypto and no files: the most nbdcopy moves on this machine, whatever the server");
console.log('TLS: the service column with the data plane over TLS (SEALKEEP_TLS_CERT/_KEY): the sealed bodies inside TLS records');
console.log("ratio: how many times qemu LUKS's speed the server's is (above 1: ahead); the no-op's is the most any server can show here");
// What every figure above includes beside its bytes: nbdcopy's start, each server's handshake and
// teardown. qemu-nbd answers the handshake in small writes without TCP_NODELAY, so Nagle holds one
// of them until the client's delayed ACK: ~40 ms per connection (strace of either side shows it).
const small = path.join(dir, 'small.bin');
writeFileSync(small, randomBytes(1 << 20));
const startCost = servers.map(() => Infinity);
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, server] of servers.entries()) startCost[i] = Math.min(startCost[i]!, (await timeCopy([small, server.url], server)).seconds);
}
console.log(column(['1 MiB in, ms'.padEnd(22), ...startCost.map((s) => (s * 1000).toFixed(0))], widths));
console.log("1 MiB in: what every copy includes beside its bytes (nbdcopy's start, the server's handshake; qemu-nbd's waits on delayed ACKs)");
const busy = [...servers.map((server, i) => ({ server, name: `${COLUMNS[i]}` })), ...sustained.map((server, i) => ({ server, name: `${COLUMNS[i]} (256 MiB)` }))]
  .filter(({ server }) => notQuiet.has(server))
  .map(({ server, name }) => `${name} ×${notQuiet.get(server)}`);
if (busy.length > 0) console.log(`not quiet ${SETTLE_MAX_MS / 1000} s after some copies, whose CPU counts that long: ${busy.join(', ')}`);

/** Sequential writes at LATENCY_DEPTH through one connection: MB/s and each write's milliseconds, sorted. */
async function timeWrites(url: string): Promise<{ mbps: number; latencies: number[] }> {
  const port = Number(new URL(url).port);
  const { client } = await RawNbdClient.open(port, 'bench');
  const data = randomBytes(LATENCY_WRITE);
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: LATENCY_DEPTH }, async () => {
      while (next * LATENCY_WRITE < LATENCY_BYTES) {
        const offset = next++ * LATENCY_WRITE;
        const sent = performance.now();
        const { error } = await client.request(NBD_CMD.WRITE, offset, LATENCY_WRITE, { data });
        if (error !== 0) throw new Error(`${url}: write at ${offset} failed (NBD error ${error})`);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await client.disconnect();
  return { mbps: LATENCY_BYTES / seconds / 1e6, latencies: latencies.sort((a, b) => a - b) };
}

const fresh = await startServers('latency', LATENCY_EXPORT);
const latencyWidths = [22, 6, 8, 8, 8, 8];
console.log(`\n${LATENCY_BYTES >> 20} MiB of ${LATENCY_WRITE >> 10} KiB writes, ${LATENCY_DEPTH} in flight, into a fresh ${LATENCY_EXPORT >> 30} GiB export (one run each)`);
console.log(column(['server'.padEnd(22), 'MB/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], latencyWidths));
for (const [i, name] of COLUMNS.entries()) {
  const { mbps, latencies } = await timeWrites(fresh[i]!.url);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
  console.log(column([name.padEnd(22), mbps.toFixed(0), at(0.5), at(0.9), at(0.99), at(1)], latencyWidths));
}

// The servers close their volumes (and the adapters their host TPMs) before their files go.
await Promise.all(children.map((child) => (child.exitCode === null ? (child.kill('SIGTERM'), once(child, 'exit')) : null)));
for (const service of services) await service.close();
process.exit(0);
