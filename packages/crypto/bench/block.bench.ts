// Block-crypto throughput on one core: AES-256-XTS encryption and decryption alone, HMAC-SHA-256
// sector tags alone (on the native engine, its fast path — AVX-512 lanes or SHA-NI pairs, where the CPU has them —
// and OpenSSL's HMAC), and XTS + tags, for 512 B and 4 KiB sectors in 1 MiB batches, on the native addon and
// on pure Node, each beside OpenSSL measured in the same run (`openssl speed`, one process, no
// -multi, -bytes = the sector size: one EVP_EncryptUpdate per data unit on one small buffer, its IV
// set once). The encrypt+tag reference is the two openssl figures in series: 1 / (1/xts + 1/hmac).
// MB/s = 10^6 bytes per CPU second of user time, what `openssl speed` divides by (times(),
// tms_utime); the engines are divided by this process's user time (every thread), so system time
// (timer interrupts, our own getrusage) counts on neither side, and other load on the machine skews
// neither much. Each figure is the best of ROUNDS runs taken in turn with its reference.
// Then the seal of block-session bodies (gcmInPlace, 1 MiB bodies in place): AES-256-GCM and GMAC
// on the native engine's path and on OpenSSL's, beside `openssl speed -evp aes-256-gcm -bytes 16384`.
// Last, a volume attestation's Merkle root (RFC 6962 over 2^18 tags: 2^19 SHA-256 of 33 or 65
// bytes) on each engine, in hashes per CPU second, beside `openssl speed -evp sha256 -bytes 64`.
// Not a test: nothing passes or fails on speed.
//   npm run bench -- block          (BENCH_SECONDS=n per run, default 1; BENCH_ROUNDS, default 2)

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { enginesUnderTest } from '../src/block/engines-under-test.js';
import { generateXtsKey } from '../src/block/engine.js';
import { nativeEvpGcmInPlace, nativeGcmPath, openNativeSectorCipher, openNativeSectorTagger } from '../src/block/native-engine.js';
import type { BlockCryptoEngine, SectorTagger } from '../src/block/engine.js';
import type { SectorSize } from '../src/block/formats.js';
import { opensslSpeed } from './openssl-speed.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const BATCH_BYTES = 1 << 20;

/** MB/s of `openssl speed <args> -bytes <size>`, one process, or null without openssl. */
const opensslSpeedOf = (args: string[], size: number) => opensslSpeed(args, size, SECONDS);

/** MB per CPU second (user time) of fn, which processes `bytes` per call, over SECONDS of calls after a warm-up. */
function megabytesPerSecond(bytes: number, fn: (round: number) => void): number {
  for (let i = 0; i < 5; i++) fn(i);
  let rounds = 0;
  const start = process.cpuUsage();
  let used = 0;
  while (used < SECONDS * 1e6) {
    fn(rounds++);
    used = process.cpuUsage(start).user;
  }
  return (rounds * bytes) / used;
}

interface Figures {
  xts: number;
  xtsDecrypt: number;
  tag: number;
  xtsAndTag: number;
}

/** MB per CPU second of tagging 1 MiB batches with tagger. */
function tagRate(tagger: SectorTagger, sectorSize: SectorSize): number {
  const sectors = BATCH_BYTES / sectorSize;
  const ciphertext = randomBytes(BATCH_BYTES);
  const tags = Buffer.alloc(sectors * 32);
  return megabytesPerSecond(BATCH_BYTES, (round) => tagger.tag(BigInt(round % 1000) * BigInt(sectors), 1n, ciphertext, tags));
}

function measure(engine: BlockCryptoEngine, sectorSize: SectorSize): Figures {
  const cipher = engine.openSectorCipher({ key: generateXtsKey(), sectorSize });
  const tagger = engine.openSectorTagger({ key: randomBytes(32), volumeId: randomBytes(16), sectorSize });
  const sectors = BATCH_BYTES / sectorSize;
  const plaintext = randomBytes(BATCH_BYTES);
  const ciphertext = Buffer.alloc(BATCH_BYTES);
  const tags = Buffer.alloc(sectors * 32);
  const lba = (round: number) => BigInt(round % 1000) * BigInt(sectors);
  const xts = megabytesPerSecond(BATCH_BYTES, (round) => cipher.encrypt(lba(round), plaintext, ciphertext));
  const decrypted = Buffer.alloc(BATCH_BYTES);
  const xtsDecrypt = megabytesPerSecond(BATCH_BYTES, (round) => cipher.decrypt(lba(round), ciphertext, decrypted));
  const tag = tagRate(tagger, sectorSize);
  const xtsAndTag = megabytesPerSecond(BATCH_BYTES, (round) => {
    cipher.encrypt(lba(round), plaintext, ciphertext);
    tagger.tag(lba(round), 1n, ciphertext, tags);
  });
  cipher.destroy();
  tagger.destroy();
  return { xts, xtsDecrypt, tag, xtsAndTag };
}

const cell = (v: number | null, width = 9) => (v === null ? '-' : v.toFixed(0)).padStart(width);
const ratio = (v: number, ref: number | null) => (ref === null ? '-' : (v / ref).toFixed(2)).padStart(6);

const engines = enginesUnderTest();
for (const { name, skip } of engines) if (skip) console.log(`${name}: not measured, ${skip}`);
const measured = engines.filter((e) => e.engine !== null);

console.log(`MB per CPU second (user time, as openssl speed), one thread, 1 MiB batches, best of ${ROUNDS} runs of ${SECONDS} s; ratio = engine / openssl`);
const probe = openNativeSectorCipher({ key: generateXtsKey(), sectorSize: 512 });
const tagProbe = openNativeSectorTagger({ key: randomBytes(32), volumeId: randomBytes(16), sectorSize: 512 });
if (probe && tagProbe) console.log(`native paths (native/sector_crypto.h): AES-XTS ${probe.xtsPath}, tags ${tagProbe.tagPath}`);
probe?.destroy();
tagProbe?.destroy();
/** The native engine's tags on its EVP path, for the row beside the lanes or pairs; null without the addon or on EVP already. */
function evpTagRate(sectorSize: SectorSize): number | null {
  if (!tagProbe || tagProbe.tagPath === 'evp') return null;
  const evp = openNativeSectorTagger({ key: randomBytes(32), volumeId: randomBytes(16), sectorSize }, { only: 'evp' })!;
  const rate = tagRate(evp, sectorSize);
  evp.destroy();
  return rate;
}
console.log(
  ['sector', 'workload'.padEnd(12), ...measured.flatMap((e) => [e.name.padStart(9), 'ratio']), 'openssl'.padStart(9), ' openssl reference'].join(' '),
);
const best = (values: Array<number | null>) => (values.includes(null) ? null : Math.max(...(values as number[])));
for (const sectorSize of [512, 4096] as const) {
  const rounds = Array.from({ length: ROUNDS }, () => ({
    xtsRef: opensslSpeedOf(['-evp', 'aes-256-xts'], sectorSize),
    xtsDecryptRef: opensslSpeedOf(['-decrypt', '-evp', 'aes-256-xts'], sectorSize),
    hmacRef: opensslSpeedOf(['-hmac', 'sha256'], sectorSize),
    engines: measured.map((e) => measure(e.engine!, sectorSize)),
    evpTag: evpTagRate(sectorSize),
  }));
  const xtsRef = best(rounds.map((r) => r.xtsRef));
  const xtsDecryptRef = best(rounds.map((r) => r.xtsDecryptRef));
  const hmacRef = best(rounds.map((r) => r.hmacRef));
  const seriesRef = xtsRef !== null && hmacRef !== null ? 1 / (1 / xtsRef + 1 / hmacRef) : null;
  const results = measured.map((_, i) => ({
    xts: best(rounds.map((r) => r.engines[i]!.xts))!,
    xtsDecrypt: best(rounds.map((r) => r.engines[i]!.xtsDecrypt))!,
    tag: best(rounds.map((r) => r.engines[i]!.tag))!,
    xtsAndTag: best(rounds.map((r) => r.engines[i]!.xtsAndTag))!,
  }));
  const size = `${sectorSize} B`.padEnd(6);
  console.log(
    [size, 'XTS encrypt'.padEnd(12), ...results.flatMap((r) => [cell(r.xts), ratio(r.xts, xtsRef)]), cell(xtsRef), ' speed -evp aes-256-xts'].join(' '),
  );
  console.log(
    [size, 'XTS decrypt'.padEnd(12), ...results.flatMap((r) => [cell(r.xtsDecrypt), ratio(r.xtsDecrypt, xtsDecryptRef)]), cell(xtsDecryptRef), ' speed -decrypt -evp aes-256-xts'].join(' '),
  );
  console.log(
    [size, 'tag'.padEnd(12), ...results.flatMap((r) => [cell(r.tag), ratio(r.tag, hmacRef)]), cell(hmacRef), ' speed -hmac sha256'].join(' '),
  );
  const evpTag = best(rounds.map((r) => r.evpTag));
  if (evpTag !== null && measured[0]?.name === 'native')
    console.log([size, 'tag, EVP'.padEnd(12), cell(evpTag), ratio(evpTag, hmacRef), ...measured.slice(1).flatMap(() => [cell(null), '     -']), cell(hmacRef), ' the native engine held on its EVP path'].join(' '));
  console.log(
    [size, 'XTS + tag'.padEnd(12), ...results.flatMap((r) => [cell(r.xtsAndTag), ratio(r.xtsAndTag, seriesRef)]), cell(seriesRef), ` xts and speed -hmac sha256 (${cell(hmacRef, 0)}) in series`].join(' '),
  );
}

// Sealed bodies: MB per CPU second of gcmInPlace over a 1 MiB body in place, GCM and GMAC.
const native = measured.find((e) => e.name === 'native')?.engine;
const evpGcm = nativeEvpGcmInPlace();
if (native && evpGcm) {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const body = randomBytes(BATCH_BYTES);
  const tag = Buffer.alloc(16);
  const rate = (gcm: BlockCryptoEngine['gcmInPlace'], authenticateOnly: boolean) =>
    best(Array.from({ length: ROUNDS }, () => megabytesPerSecond(BATCH_BYTES, () => gcm(true, key, iv, Buffer.alloc(0), [body], tag, authenticateOnly))))!;
  const gcmRef = best(Array.from({ length: ROUNDS }, () => opensslSpeedOf(['-evp', 'aes-256-gcm'], 16384)));
  const path = nativeGcmPath();
  const nativeGcm = rate(native.gcmInPlace, false);
  const figures = [`GCM ${cell(nativeGcm, 0)} (ratio ${ratio(nativeGcm, gcmRef).trim()})`, `GMAC ${cell(rate(native.gcmInPlace, true), 0)}`];
  if (path !== 'evp') figures.push(`OpenSSL's path: GCM ${cell(rate(evpGcm, false), 0)}, GMAC ${cell(rate(evpGcm, true), 0)}`);
  console.log(`sealed bodies, 1 MiB in place, MB per CPU second: native (${path}) ${figures.join('  ')}  openssl speed -evp aes-256-gcm -bytes 16384: ${cell(gcmRef, 0)}`);
}

// The Merkle root: hashes per CPU second (user time), two per tag.
const TAGS = 2 ** 18;
const tags = randomBytes(32 * TAGS);
const hashRef = best(Array.from({ length: ROUNDS }, () => opensslSpeedOf(['-evp', 'sha256'], 64)));
const hashesPerSecond = measured.map((e) =>
  Math.max(
    ...Array.from({ length: ROUNDS }, () => {
      const start = process.cpuUsage();
      e.engine!.merkleRoot(tags);
      return (2 * TAGS) / (process.cpuUsage(start).user / 1e6);
    }),
  ),
);
const millions = (v: number | null) => (v === null ? '-' : (v / 1e6).toFixed(2));
console.log(
  [`Merkle root of 2^18 tags, million SHA-256 per CPU second:`, ...measured.map((e, i) => `${e.name} ${millions(hashesPerSecond[i]!)} (ratio ${hashRef === null ? '-' : (hashesPerSecond[i]! / ((hashRef * 1e6) / 64)).toFixed(2)})`), `openssl speed -evp sha256 -bytes 64: ${millions(hashRef === null ? null : (hashRef * 1e6) / 64)} (two SHA-256 blocks a message; a leaf is one, a node two)`].join('  '),
);
if (spawnSync('openssl', ['version']).status !== 0) console.log('openssl is not installed: no reference figures');
