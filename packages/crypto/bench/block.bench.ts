// Block-crypto throughput on one core: AES-256-XTS alone and XTS + HMAC-SHA-256 sector tags, for
// 512 B and 4 KiB sectors in 1 MiB batches, on the native addon and on pure Node, each beside
// OpenSSL measured in the same run (`openssl speed`, one process, same block size). The
// encrypt+tag reference is the two openssl figures in series: 1 / (1/xts + 1/hmac). MB/s = 10^6
// bytes per CPU second: `openssl speed` divides by its CPU user time, so the figures here divide
// by this process's CPU time (user + system, every thread), and other load on the machine skews
// neither side. Each figure is the best of ROUNDS runs taken in turn with its reference. Not a
// test: nothing passes or fails on speed.
//   npm run bench -- block          (BENCH_SECONDS=n per run, default 1; BENCH_ROUNDS, default 2)

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { enginesUnderTest } from '../src/block/engines-under-test.js';
import { generateXtsKey } from '../src/block/engine.js';
import type { BlockCryptoEngine } from '../src/block/engine.js';
import type { SectorSize } from '../src/block/formats.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const BATCH_BYTES = 1 << 20;

/** MB/s of `openssl speed <args> -bytes <size>`, or null without openssl. */
function opensslSpeed(args: string[], size: number): number | null {
  const r = spawnSync('openssl', ['speed', ...args, '-seconds', String(SECONDS), '-bytes', String(size)], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  // The last line: "<algorithm>   <n>k", n in 1000s of bytes per second.
  const last = /\s([\d.]+)k\s*$/.exec(r.stdout.trimEnd());
  return last ? Number(last[1]) / 1000 : null;
}

/** MB per CPU second of fn, which processes `bytes` per call, over SECONDS of calls after a warm-up. */
function megabytesPerSecond(bytes: number, fn: (round: number) => void): number {
  for (let i = 0; i < 5; i++) fn(i);
  let rounds = 0;
  const cpuMicroseconds = ({ user, system }: NodeJS.CpuUsage) => user + system;
  const start = process.cpuUsage();
  let used = 0;
  while (used < SECONDS * 1e6) {
    fn(rounds++);
    used = cpuMicroseconds(process.cpuUsage(start));
  }
  return (rounds * bytes) / used;
}

function measure(engine: BlockCryptoEngine, sectorSize: SectorSize): { xts: number; xtsAndTag: number } {
  const cipher = engine.openSectorCipher({ key: generateXtsKey(), sectorSize });
  const tagger = engine.openSectorTagger({ key: randomBytes(32), volumeId: randomBytes(16), sectorSize });
  const sectors = BATCH_BYTES / sectorSize;
  const plaintext = randomBytes(BATCH_BYTES);
  const ciphertext = Buffer.alloc(BATCH_BYTES);
  const tags = Buffer.alloc(sectors * 32);
  const lba = (round: number) => BigInt(round % 1000) * BigInt(sectors);
  const xts = megabytesPerSecond(BATCH_BYTES, (round) => cipher.encrypt(lba(round), plaintext, ciphertext));
  const xtsAndTag = megabytesPerSecond(BATCH_BYTES, (round) => {
    cipher.encrypt(lba(round), plaintext, ciphertext);
    tagger.tag(lba(round), 1n, ciphertext, tags);
  });
  cipher.destroy();
  tagger.destroy();
  return { xts, xtsAndTag };
}

const cell = (v: number | null, width = 9) => (v === null ? '-' : v.toFixed(0)).padStart(width);
const ratio = (v: number, ref: number | null) => (ref === null ? '-' : (v / ref).toFixed(2)).padStart(6);

const engines = enginesUnderTest();
for (const { name, skip } of engines) if (skip) console.log(`${name}: not measured, ${skip}`);
const measured = engines.filter((e) => e.engine !== null);

console.log(`MB per CPU second, one thread, 1 MiB batches, best of ${ROUNDS} runs of ${SECONDS} s; ratio = engine / openssl`);
console.log(
  ['sector', 'workload'.padEnd(12), ...measured.flatMap((e) => [e.name.padStart(9), 'ratio']), 'openssl'.padStart(9), ' openssl reference'].join(' '),
);
const best = (values: Array<number | null>) => (values.includes(null) ? null : Math.max(...(values as number[])));
for (const sectorSize of [512, 4096] as const) {
  const rounds = Array.from({ length: ROUNDS }, () => ({
    xtsRef: opensslSpeed(['-evp', 'aes-256-xts'], sectorSize),
    hmacRef: opensslSpeed(['-hmac', 'sha256'], sectorSize),
    engines: measured.map((e) => measure(e.engine!, sectorSize)),
  }));
  const xtsRef = best(rounds.map((r) => r.xtsRef));
  const hmacRef = best(rounds.map((r) => r.hmacRef));
  const seriesRef = xtsRef !== null && hmacRef !== null ? 1 / (1 / xtsRef + 1 / hmacRef) : null;
  const results = measured.map((_, i) => ({
    xts: best(rounds.map((r) => r.engines[i]!.xts))!,
    xtsAndTag: best(rounds.map((r) => r.engines[i]!.xtsAndTag))!,
  }));
  const size = `${sectorSize} B`.padEnd(6);
  console.log(
    [size, 'XTS'.padEnd(12), ...results.flatMap((r) => [cell(r.xts), ratio(r.xts, xtsRef)]), cell(xtsRef), ' speed -evp aes-256-xts'].join(' '),
  );
  console.log(
    [size, 'XTS + tag'.padEnd(12), ...results.flatMap((r) => [cell(r.xtsAndTag), ratio(r.xtsAndTag, seriesRef)]), cell(seriesRef), ` xts and speed -hmac sha256 (${cell(hmacRef, 0)}) in series`].join(' '),
  );
}
if (spawnSync('openssl', ['version']).status !== 0) console.log('openssl is not installed: no reference figures');
