// Seeded random malformed input against the NBD server over loopback (the seed is in the suite's
// name; NBD_FUZZ_SEED=n runs another). Handshake: misstated, truncated and huge option lengths,
// unknown options, malformed NBD_OPT_GO / NBD_OPT_INFO. Transmission: bad magic, unknown commands
// and flags, ranges past the end or wrapping 64 bits, zero and huge lengths, WRITE payloads cut
// short, long pipelines. Each connection gets well-formed errors or is closed in time, nothing
// escapes to the process; afterwards the sectors written before are unchanged, a fresh client
// writes and reads, and the server closes at once.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import type { Socket } from 'node:net';
import path from 'node:path';
import type { Logger } from '../logger.js';
import type { EncryptedFileVolume } from '../volume/encrypted-file-volume.js';
import { openTestVolume, recordingLogger, startServer, temporaryDirectory } from '../test-kit.fixture.js';
import { MAX_REQUEST_BYTES } from './export-policy.js';
import type { NbdServer } from './nbd-server.js';
import {
  BASE_ALLOCATION,
  IHAVEOPT,
  NBD_CMD,
  NBD_CMD_FLAG,
  NBD_ERROR,
  NBD_FLAG_C,
  NBD_INFO,
  NBD_OPT,
  NBD_REP,
  NBD_REP_MAGIC,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
} from './nbd-constants.js';
import { RawNbdClient, infoRequest, metaContextRequest, optionHeader, requestHeader, type Reply } from './raw-nbd-client.fixture.js';
import { ConnectionClosed } from './socket-reader.js';

const SEED = Number(process.env.NBD_FUZZ_SEED ?? 20_240_611);
const HANDSHAKE_CASES = 500;
const TRANSMISSION_CONNECTIONS = 250;
/** How long one malformed connection may take to be answered or closed: far more than it needs, far less than a hang. */
const DEADLINE_MS = 5000;
/** How long closing the server may take once every client is gone (it destroys what is left at once): a deadline, not an expectation (a loaded machine). */
const CLOSE_DEADLINE_MS = 10_000;

const KiB = 1024;
const SIZE = 4 << 20;
const SECTOR = 4096;
/** Written by a good client before the fuzzing; no request that should succeed touches them. [start, end) */
const GUARDED: ReadonlyArray<readonly [number, number]> = [
  [0, 1 << 20],
  [SIZE - 64 * KiB, SIZE],
];
/** Where the requests that should succeed write, trim and zero. */
const SCRATCH = [1 << 20, SIZE - 64 * KiB] as const;
const U64_MAX = (1n << 64n) - 1n;
const KNOWN_ERRORS = new Set<number>(Object.values(NBD_ERROR));

/** Deterministic random values: the AES-128-CTR keystream of a key drawn from the seed and a purpose. */
class SeededRandom {
  readonly #keystream: Cipher;

  constructor(seed: number, purpose: string) {
    const key = createHash('sha256').update(`${purpose}:${seed}`).digest();
    this.#keystream = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16));
  }

  bytes(count: number): Buffer {
    return this.#keystream.update(Buffer.alloc(count));
  }

  /** An integer in [0, bound), bound at most 2^32. */
  below(bound: number): number {
    return Math.floor((this.bytes(4).readUInt32BE(0) / 2 ** 32) * bound);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.bytes(4).readUInt32BE(0) / 2 ** 32 < probability;
  }

  pick<T>(choices: readonly T[]): T {
    return choices[this.below(choices.length)]!;
  }

  u64(): bigint {
    return this.bytes(8).readBigUInt64BE(0);
  }
}

type LogEntry = ReturnType<typeof recordingLogger>['entries'][number];

/** The server's log (recordingLogger's), and the entry that ends the server's side of one client's connection, awaited. */
function watchedLogger(): { log: Logger; entries: LogEntry[]; connectionEnd: (clientPort: number, since: number) => Promise<LogEntry> } {
  const recorded = recordingLogger();
  const waiting: Array<() => void> = [];
  const at = (level: keyof Logger) => (fields: object, message: string) => {
    recorded[level](fields, message);
    for (const wake of waiting.splice(0)) wake();
  };
  /** Each connection logs one last entry (handshake aborted, client gone, breach, failure); all but "started" name its peer. */
  async function connectionEnd(clientPort: number, since: number): Promise<LogEntry> {
    const peer = `127.0.0.1:${clientPort}`;
    for (;;) {
      const entries = recorded.entries.slice(since);
      const ids = new Set(entries.filter((e) => e.fields.peer === peer).map((e) => e.fields.connection));
      const end = entries.find((e) => ids.has(e.fields.connection) && e.message !== 'NBD transmission started');
      if (end) return end;
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  }
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, entries: recorded.entries, connectionEnd };
}

/** `promise`, or a failure naming `what` once `ms` have passed. */
async function within<T>(what: string, promise: Promise<T>, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `data` in one to three pieces, each handed to the kernel before the next, so the server meets it cut anywhere. */
async function sendInPieces(rng: SeededRandom, socket: Socket, data: Buffer): Promise<void> {
  const cuts = [rng.below(data.length + 1), rng.below(data.length + 1)].slice(0, rng.below(3)).sort((a, b) => a - b);
  let from = 0;
  for (const to of [...cuts, data.length]) {
    if (to > from) await new Promise<void>((resolve) => socket.write(data.subarray(from, to), () => resolve()));
    from = Math.max(from, to);
  }
}

const isOptionError = (type: number) => type >= 2 ** 31;

/** Option replies until the server closes the connection: each whole, starting with NBD_REP_MAGIC. */
async function optionRepliesUntilClosed(client: RawNbdClient, context: string): Promise<void> {
  for (;;) {
    let first: Buffer;
    try {
      first = await client.reader.read(1);
    } catch (error) {
      if (error instanceof ConnectionClosed) return;
      throw error;
    }
    try {
      const head = Buffer.concat([first, await client.reader.read(19)]);
      assert.equal(head.readBigUInt64BE(0), NBD_REP_MAGIC, `${context}: option reply magic`);
      const length = head.readUInt32BE(16);
      assert.ok(length <= 64 * KiB, `${context}: option reply of ${length} bytes`);
      await client.reader.read(length);
    } catch (error) {
      if (error instanceof ConnectionClosed) assert.fail(`${context}: the connection closed inside an option reply`);
      throw error;
    }
  }
}

// ---- Handshake: what is sent -------------------------------------------------------------------

interface OptionCase {
  what: string;
  option: number;
  data: Buffer;
  /** Well-formed and about an export that exists: ACK is due (with good client flags). */
  valid: boolean;
}

const UNSUPPORTED_OPTIONS = [0, 11, 12, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, NBD_OPT.PEEK_EXPORT, NBD_OPT.STARTTLS];
const UNKNOWN_EXPORT_NAMES = ['', 'nope', 'DISK', 'disk ', 'disk\u0000', 'dïsk', 'ro'];

function randomInfoTypes(rng: SeededRandom): number[] {
  return Array.from({ length: rng.below(4) }, () => rng.pick([NBD_INFO.EXPORT, NBD_INFO.NAME, NBD_INFO.DESCRIPTION, NBD_INFO.BLOCK_SIZE, rng.below(65536)]));
}

/** NBD_OPT_GO / NBD_OPT_INFO data broken in one of the ways its fields allow. */
function malformedInfoRequest(rng: SeededRandom): { what: string; data: Buffer } {
  const infos = randomInfoTypes(rng);
  const data = infoRequest(rng.pick(['disk', 'nope']), infos);
  switch (rng.below(5)) {
    case 0:
      return { what: 'data shorter than 6 bytes', data: data.subarray(0, rng.below(6)) };
    case 1: {
      const nameLength = rng.pick([data.length - 5, data.length, 0xffff_ffff, 0x8000_0000, data.length + rng.below(100_000)]);
      data.writeUInt32BE(nameLength, 0);
      return { what: `name length ${nameLength} in ${data.length} bytes`, data };
    }
    case 2: {
      const count = (infos.length + rng.pick([1, 2, 0xffff, rng.between(1, 0xffff)])) % 0x10000;
      data.writeUInt16BE(count, data.length - 2 - 2 * infos.length);
      return { what: `${count} information requests announced, ${infos.length} sent`, data };
    }
    case 3:
      return { what: 'trailing bytes', data: Buffer.concat([data, rng.bytes(rng.between(1, 9))]) };
    default:
      return { what: 'name longer than 4096 bytes', data: infoRequest('x'.repeat(rng.between(4097, 6000)), infos) };
  }
}

/**
 * NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data broken in one of the ways its fields
 * allow, or about an export that does not exist: an error whether or not structured replies were
 * negotiated before it (ERR_INVALID before them).
 */
function malformedMetaContextRequest(rng: SeededRandom): { what: string; data: Buffer } {
  const good = metaContextRequest(rng.pick(['disk', 'ro']), rng.pick([[], ['base:allocation'], ['base:'], ['qemu:dirty-bitmap:x', 'base:allocation']]));
  switch (rng.below(6)) {
    case 0:
      return { what: 'data cut short', data: good.subarray(0, rng.below(good.length)) };
    case 1: {
      const nameLength = rng.pick([0xffff_ffff, 0x8000_0000, good.length, 4097]);
      good.writeUInt32BE(nameLength, 0);
      return { what: `export name length ${nameLength}`, data: good };
    }
    case 2: {
      const data = metaContextRequest('disk', ['base:allocation']);
      const count = rng.pick([2, 0xffff_ffff, rng.between(3, 1000)]);
      data.writeUInt32BE(count, 8);
      return { what: `${count} queries announced, one sent`, data };
    }
    case 3:
      return { what: 'a query with no namespace', data: metaContextRequest('disk', [rng.pick(['allocation', '', 'base'])]) };
    case 4:
      return { what: 'trailing bytes', data: Buffer.concat([good, rng.bytes(rng.between(1, 9))]) };
    default:
      return { what: 'an unknown export', data: metaContextRequest(rng.pick(UNKNOWN_EXPORT_NAMES), ['base:allocation']) };
  }
}

/** An option sent whole, with its true length: the server owes it a final reply (or closes). */
function completeOption(rng: SeededRandom): OptionCase {
  switch (rng.below(8)) {
    case 0: {
      const option = rng.pick([...UNSUPPORTED_OPTIONS, rng.between(13, 0xffff_ffff)]);
      const data = rng.bytes(rng.pick([0, 1, 16, rng.below(300), 4096, 64 * KiB]));
      return { what: `unsupported option ${option} with ${data.length} bytes`, option, data, valid: false };
    }
    case 1:
      return { what: 'NBD_OPT_LIST with data', option: NBD_OPT.LIST, data: rng.bytes(rng.between(1, 64)), valid: false };
    case 2: {
      const option = rng.pick([NBD_OPT.GO, NBD_OPT.INFO]);
      const { what, data } = malformedInfoRequest(rng);
      return { what: `${option === NBD_OPT.GO ? 'NBD_OPT_GO' : 'NBD_OPT_INFO'}, ${what}`, option, data, valid: false };
    }
    case 3: {
      const option = rng.pick([NBD_OPT.GO, NBD_OPT.INFO]);
      const name = rng.pick(UNKNOWN_EXPORT_NAMES);
      return { what: `option ${option} for export ${JSON.stringify(name)}`, option, data: infoRequest(name, randomInfoTypes(rng)), valid: false };
    }
    case 6:
      return { what: 'NBD_OPT_STRUCTURED_REPLY with data', option: NBD_OPT.STRUCTURED_REPLY, data: rng.bytes(rng.between(1, 64)), valid: false };
    case 7: {
      const option = rng.pick([NBD_OPT.LIST_META_CONTEXT, NBD_OPT.SET_META_CONTEXT]);
      const { what, data } = malformedMetaContextRequest(rng);
      return { what: `${option === NBD_OPT.SET_META_CONTEXT ? 'NBD_OPT_SET_META_CONTEXT' : 'NBD_OPT_LIST_META_CONTEXT'}, ${what}`, option, data, valid: false };
    }
    case 4:
      return { what: 'NBD_OPT_LIST', option: NBD_OPT.LIST, data: Buffer.alloc(0), valid: true };
    default:
      return { what: 'NBD_OPT_INFO for disk', option: NBD_OPT.INFO, data: infoRequest('disk', randomInfoTypes(rng)), valid: true };
  }
}

const wholeOption = (o: OptionCase) => Buffer.concat([optionHeader(o.option, o.data.length), o.data]);

/** How a sequence of options ends: the bytes, and then what the client does. */
interface HandshakeEnding {
  what: string;
  bytes: Buffer;
  then: 'half-close' | 'destroy' | 'wait for the close';
}

function handshakeEnding(rng: SeededRandom): HandshakeEnding {
  const cut = rng.pick(['half-close', 'destroy'] as const);
  switch (rng.below(8)) {
    case 0: {
      const header = optionHeader(rng.pick([NBD_OPT.GO, NBD_OPT.LIST, 4242]), rng.below(100));
      const bytes = header.subarray(0, rng.between(1, 15));
      return { what: `${bytes.length} bytes of an option header`, bytes, then: cut };
    }
    case 1: {
      const option = completeOption(rng);
      const announced = option.data.length + rng.between(1, 4096);
      const bytes = Buffer.concat([optionHeader(option.option, announced), option.data]);
      return { what: `${option.what}, announced as ${announced} bytes`, bytes, then: cut };
    }
    case 2: {
      const announced = rng.pick([0xffff_ffff, 0x8000_0000, 1 << 30, 1 << 24]);
      const bytes = Buffer.concat([optionHeader(rng.pick([NBD_OPT.GO, NBD_OPT.INFO, NBD_OPT.LIST, 4242]), announced), rng.bytes(rng.below(64))]);
      return { what: `an option announcing ${announced} bytes of data`, bytes, then: 'wait for the close' };
    }
    case 3: {
      // The excess (or the shortfall) is read as the next option's header: the stream is out of step.
      const option = completeOption(rng);
      const misstated = Math.max(0, option.data.length + rng.pick([-1, -rng.between(1, 40), 1, rng.between(2, 40)]));
      const bytes = Buffer.concat([optionHeader(option.option, misstated), option.data, wholeOption(completeOption(rng))]);
      return { what: `${option.what}, announced as ${misstated} bytes, then another option`, bytes, then: 'half-close' };
    }
    case 4: {
      const magic = IHAVEOPT ^ (1n << BigInt(rng.below(64)));
      const option = completeOption(rng);
      return { what: `${option.what} without IHAVEOPT`, bytes: Buffer.concat([optionHeader(option.option, option.data.length, magic), option.data]), then: 'wait for the close' };
    }
    case 5: {
      const name = rng.pick(UNKNOWN_EXPORT_NAMES);
      const data = Buffer.from(name, 'utf8');
      return { what: `NBD_OPT_EXPORT_NAME ${JSON.stringify(name)}`, bytes: Buffer.concat([optionHeader(NBD_OPT.EXPORT_NAME, data.length), data]), then: 'wait for the close' };
    }
    case 6: {
      const data = rng.bytes(rng.pick([0, 0, 1, 20]));
      return { what: `NBD_OPT_ABORT with ${data.length} bytes`, bytes: Buffer.concat([optionHeader(NBD_OPT.ABORT, data.length), data]), then: 'half-close' };
    }
    default: {
      const bytes = rng.bytes(rng.between(1, 200));
      return { what: `${bytes.length} random bytes`, bytes, then: cut };
    }
  }
}

// ---- Transmission: what is sent ----------------------------------------------------------------

interface RequestCase {
  what: string;
  type: number;
  flags: number;
  offset: bigint;
  length: number;
  data?: Buffer;
  /** 'any': either answer is right, as long as it is well-formed. */
  expect: 'ok' | 'error' | 'any';
}

/** A start inside a region such that `length` bytes fit in it. */
function startIn(rng: SeededRandom, [start, end]: readonly [number, number], length: number): number {
  return start + rng.below(end - start - length + 1);
}

const COMMANDS_WITH_RANGES = [NBD_CMD.READ, NBD_CMD.WRITE, NBD_CMD.TRIM, NBD_CMD.WRITE_ZEROES];
const UNADVERTISED_FLAGS = [NBD_CMD_FLAG.DF, NBD_CMD_FLAG.REQ_ONE, NBD_CMD_FLAG.FAST_ZERO, 1 << 5, 1 << 9, 1 << 15];

/**
 * A block status on a connection that selected base:allocation: in range with flags it takes
 * (answered), or of length 0, past the end or with a flag it does not take (refused).
 */
function randomBlockStatus(rng: SeededRandom): RequestCase {
  const type = NBD_CMD.BLOCK_STATUS;
  if (rng.chance(0.5)) {
    const length = rng.pick([1, SECTOR, rng.between(1, SIZE), 0xffff_ffff]);
    const offset = length > SIZE ? 0 : rng.below(SIZE - length + 1);
    const flags = rng.pick([0, NBD_CMD_FLAG.REQ_ONE, NBD_CMD_FLAG.FUA]);
    return { what: `block status ${offset}+${Math.min(length, SIZE)} flags 0x${flags.toString(16)}`, type, flags, offset: BigInt(offset), length: Math.min(length, SIZE), expect: 'ok' };
  }
  const [offset, length, flags] = rng.pick<[bigint, number, number]>([
    [BigInt(rng.below(SIZE)), 0, 0],
    [BigInt(SIZE - SECTOR), 2 * SECTOR, 0],
    [U64_MAX, 1, 0],
    [0n, SECTOR, rng.pick([NBD_CMD_FLAG.DF, NBD_CMD_FLAG.NO_HOLE, NBD_CMD_FLAG.FAST_ZERO, 1 << 9])],
  ]);
  return { what: `block status ${offset}+${length} flags 0x${flags.toString(16)}`, type, flags, offset, length, expect: 'error' };
}

/**
 * One request; WRITEs that must be refused carry bytes the guarded sectors never held, at a
 * guarded offset. FAST_ZERO is write-zeroes' flag; on a connection with structured replies and
 * base:allocation (`structured`), block status is served and DF is a read's flag, so none of them
 * is among the refusals.
 */
function randomRequest(rng: SeededRandom, structured: boolean): RequestCase {
  const payloadFor = (type: number, length: number) => (type === NBD_CMD.WRITE ? { data: rng.bytes(length) } : {});
  if (structured && rng.chance(0.15)) return randomBlockStatus(rng);
  switch (rng.below(10)) {
    case 0: {
      const type = rng.pick([NBD_CMD.CACHE, ...(structured ? [] : [NBD_CMD.BLOCK_STATUS]), NBD_CMD.RESIZE, 9, 0xff, 0xffff, rng.between(9, 0xffff)]);
      const length = rng.pick([0, 512, 0xffff_ffff]);
      return { what: `command ${type}`, type, flags: 0, offset: BigInt(startIn(rng, GUARDED[0]!, 0)), length, expect: 'error' };
    }
    case 1: {
      const type = rng.pick([...COMMANDS_WITH_RANGES, NBD_CMD.FLUSH]);
      const served = type === NBD_CMD.WRITE_ZEROES ? NBD_CMD_FLAG.FAST_ZERO : structured && type === NBD_CMD.READ ? NBD_CMD_FLAG.DF : 0;
      const refused = UNADVERTISED_FLAGS.filter((f) => f !== served);
      const unwanted = rng.pick(type === NBD_CMD.WRITE_ZEROES ? refused : [...refused, NBD_CMD_FLAG.NO_HOLE]);
      const flags = unwanted | (rng.chance(0.5) ? NBD_CMD_FLAG.FUA : 0);
      const length = type === NBD_CMD.FLUSH ? 0 : rng.between(1, 16 * KiB);
      const offset = type === NBD_CMD.FLUSH ? 0 : startIn(rng, rng.pick(GUARDED), length);
      return { what: `command ${type} with flags 0x${flags.toString(16)}`, type, flags, offset: BigInt(offset), length, ...payloadFor(type, length), expect: 'error' };
    }
    case 2: {
      const type = rng.pick(COMMANDS_WITH_RANGES);
      const before = rng.between(1, 8 * KiB);
      const [offset, length] = rng.pick<[bigint, number]>([
        [BigInt(SIZE - before), before + rng.between(1, 8 * KiB)],
        [BigInt(SIZE + rng.below(1 << 20)), rng.between(1, 8 * KiB)],
        [1n << 63n, rng.between(1, 4 * KiB)],
        [U64_MAX, 1],
        [U64_MAX - BigInt(before) + 1n, before + rng.between(1, 4 * KiB)], // offset + length wraps past 2^64
        [BigInt(SIZE) + (rng.u64() % (U64_MAX - BigInt(SIZE))), rng.between(1, 4 * KiB)],
      ]);
      return { what: `command ${type} at ${offset}+${length}, past the end`, type, flags: 0, offset, length, ...payloadFor(type, length), expect: 'error' };
    }
    case 3: {
      const type = rng.pick([NBD_CMD.READ, NBD_CMD.TRIM, NBD_CMD.WRITE_ZEROES]);
      const length = rng.pick([0xffff_ffff, 0x8000_0000, MAX_REQUEST_BYTES + 1, SIZE + 1]);
      return { what: `command ${type} of ${length} bytes`, type, flags: 0, offset: BigInt(startIn(rng, GUARDED[0]!, 0)), length, expect: 'error' };
    }
    case 4: {
      const type = rng.pick(COMMANDS_WITH_RANGES);
      const offset = rng.pick([0n, BigInt(startIn(rng, GUARDED[0]!, 0)), BigInt(SIZE), BigInt(SIZE) + 1n, 1n << 63n, U64_MAX]);
      // In range, zero bytes is a harmless no-op or a refusal; past the end, a refusal.
      return { what: `command ${type} of 0 bytes at ${offset}`, type, flags: 0, offset, length: 0, ...payloadFor(type, 0), expect: offset <= BigInt(SIZE) ? 'any' : 'error' };
    }
    case 5: {
      const odd = rng.chance(0.3);
      const [offset, length] = odd ? [rng.below(SIZE), rng.below(SECTOR)] : [0, 0];
      return { what: `flush at ${offset}+${length}`, type: NBD_CMD.FLUSH, flags: rng.chance(0.5) ? NBD_CMD_FLAG.FUA : 0, offset: BigInt(offset), length, expect: odd ? 'any' : 'ok' };
    }
    case 6:
    case 7: {
      const region = rng.pick(GUARDED);
      const length = rng.between(1, 64 * KiB);
      const offset = startIn(rng, region, length);
      return { what: `read of guarded ${offset}+${length}`, type: NBD_CMD.READ, flags: 0, offset: BigInt(offset), length, expect: 'ok' };
    }
    case 8: {
      const length = rng.between(1, 64 * KiB);
      const offset = startIn(rng, SCRATCH, length);
      return { what: `write of scratch ${offset}+${length}`, type: NBD_CMD.WRITE, flags: rng.pick([0, NBD_CMD_FLAG.FUA]), offset: BigInt(offset), length, data: rng.bytes(length), expect: 'ok' };
    }
    default: {
      const type = rng.pick([NBD_CMD.TRIM, NBD_CMD.WRITE_ZEROES]);
      const length = rng.between(1, 256 * KiB);
      const offset = startIn(rng, SCRATCH, length);
      const flags = rng.pick(type === NBD_CMD.TRIM ? [0, NBD_CMD_FLAG.FUA] : [0, NBD_CMD_FLAG.FUA, NBD_CMD_FLAG.NO_HOLE]);
      return { what: `command ${type} of scratch ${offset}+${length}`, type, flags, offset: BigInt(offset), length, expect: 'ok' };
    }
  }
}

type TransmissionEnding = 'NBD_CMD_DISC' | 'bad magic' | 'short WRITE payload, half-close' | 'short WRITE payload, destroy' | 'truncated header, half-close' | 'destroy';
const TRANSMISSION_ENDINGS: readonly TransmissionEnding[] = ['NBD_CMD_DISC', 'bad magic', 'short WRITE payload, half-close', 'short WRITE payload, destroy', 'truncated header, half-close', 'destroy'];

describe(`NBD server under malformed input (seed ${SEED})`, () => {
  const tmp = temporaryDirectory('malformed');
  const watch = watchedLogger();
  /** What a good client wrote: only the GUARDED ranges are checked. */
  const written = Buffer.alloc(SIZE);
  const escaped: unknown[] = [];
  const onEscaped = (error: unknown) => void escaped.push(error);
  let volume: EncryptedFileVolume;
  let server: NbdServer;
  let port: number;

  before(async () => {
    process.on('uncaughtException', onEscaped);
    process.on('unhandledRejection', onEscaped);
    volume = await openTestVolume(path.join(tmp.dir, 'disk'), { size: SIZE, sectorSize: SECTOR });
    ({ server, port } = await startServer({ disk: volume }, watch.log));
  });
  after(async () => {
    process.off('uncaughtException', onEscaped);
    process.off('unhandledRejection', onEscaped);
    await server.close();
    await volume.close();
    tmp.remove();
  });

  /** Nothing thrown or rejected outside the server's handling, and no server fault logged. */
  function assertServerSound(): void {
    assert.deepEqual(escaped, [], `seed ${SEED}: errors escaped to the process`);
    const faults = watch.entries.filter((e) => e.level === 'error');
    assert.deepEqual(faults.map((e) => `${e.message}: ${String(e.fields.err)}`), [], `seed ${SEED}: the server logged faults`);
  }

  async function serverSideEnded(clientPort: number, since: number, context: string): Promise<void> {
    const end = await within(`${context}: the server's side`, watch.connectionEnd(clientPort, since));
    assert.notEqual(end.level, 'error', `${context}: ${end.message}: ${String(end.fields.err)}`);
  }

  test('a good client writes the sectors the fuzzing must leave alone', async () => {
    const rng = new SeededRandom(SEED, 'guarded');
    const { client } = await RawNbdClient.open(port, 'disk');
    for (const [start, end] of GUARDED) {
      rng.bytes(end - start).copy(written, start);
      assert.equal((await client.request(NBD_CMD.WRITE, start, end - start, { data: written.subarray(start, end) })).error, 0);
    }
    assert.equal((await client.request(NBD_CMD.FLUSH, 0, 0)).error, 0);
    for (const [start, end] of GUARDED) assert.deepEqual((await client.request(NBD_CMD.READ, start, end - start)).data, written.subarray(start, end));
    await client.disconnect();
  });

  test(`handshake: ${HANDSHAKE_CASES} random option sequences, each answered with errors or closed`, async () => {
    const rng = new SeededRandom(SEED, 'handshake');
    for (let index = 0; index < HANDSHAKE_CASES; index++) {
      const steps: string[] = [];
      const context = () => `seed ${SEED}, handshake case ${index}: ${steps.join(' → ')}`;
      const since = watch.entries.length;
      const client = await within(`handshake case ${index}: greeting`, RawNbdClient.connect(port));
      const clientPort = client.socket.localPort!;
      try {
        const fixed = NBD_FLAG_C.FIXED_NEWSTYLE;
        const fixedNoZeroes = NBD_FLAG_C.FIXED_NEWSTYLE | NBD_FLAG_C.NO_ZEROES;
        const clientFlags = rng.pick([fixedNoZeroes, fixedNoZeroes, fixedNoZeroes, fixedNoZeroes, fixedNoZeroes, fixed, fixed, 0, fixed | (1 << rng.between(2, 31))]);
        const goodFlags = clientFlags === fixed || clientFlags === fixedNoZeroes;
        steps.push(`client flags 0x${(clientFlags >>> 0).toString(16)}`);
        client.sendClientFlags(clientFlags);

        let closed = false;
        for (let count = rng.below(4); count > 0 && !closed; count--) {
          const option = completeOption(rng);
          steps.push(option.what);
          try {
            const final = (await within(context(), client.option(option.option, option.data))).at(-1)!;
            if (option.valid && goodFlags) assert.equal(final.type, NBD_REP.ACK, `${context()}: refused`);
            else assert.ok(isOptionError(final.type), `${context()}: answered 0x${final.type.toString(16)}, not an error`);
          } catch (error) {
            if (!(error instanceof ConnectionClosed)) throw error;
            assert.ok(!(option.valid && goodFlags), `${context()}: the server closed the connection`);
            closed = true;
          }
        }

        if (!closed) {
          const ending = handshakeEnding(rng);
          steps.push(`${ending.what}, ${ending.then}`);
          await sendInPieces(rng, client.socket, ending.bytes);
          if (ending.then === 'destroy') client.destroy();
          else {
            if (ending.then === 'half-close') client.socket.end();
            await within(context(), optionRepliesUntilClosed(client, context()));
          }
        }
        await serverSideEnded(clientPort, since, context());
      } finally {
        client.destroy();
      }
    }
    assertServerSound();
  });

  test(`transmission: ${TRANSMISSION_CONNECTIONS} connections of random requests, each refused, served or closed`, async () => {
    const rng = new SeededRandom(SEED, 'transmission');
    for (let index = 0; index < TRANSMISSION_CONNECTIONS; index++) {
      const steps: string[] = [];
      const context = () => `seed ${SEED}, transmission connection ${index}: ${steps.join(' → ')}`;
      const since = watch.entries.length;
      const structured = rng.chance(0.4);
      if (structured) steps.push('structured replies, base:allocation');
      const { client } = await within(`transmission connection ${index}: NBD_OPT_GO`, RawNbdClient.open(port, 'disk', structured ? { structured, contexts: [BASE_ALLOCATION] } : {}));
      const clientPort = client.socket.localPort!;
      try {
        const sent: Array<{ request: RequestCase; reply: Promise<Reply> }> = [];
        const pipeline = rng.chance(0.1);
        const count = pipeline ? rng.between(100, 200) : rng.between(1, 12);
        if (pipeline) steps.push(`${count} requests pipelined`);
        for (let i = 0; i < count; i++) {
          const request = randomRequest(rng, structured);
          if (!pipeline) steps.push(request.what);
          const reply = client.request(request.type, request.offset, request.length, { flags: request.flags, ...(request.data ? { data: request.data } : {}) });
          reply.catch(() => undefined); // judged below, once the connection has ended
          sent.push({ request, reply });
          if (!pipeline && rng.chance(0.3)) await within(context(), Promise.allSettled(sent.map((s) => s.reply)));
        }

        const ending = rng.pick(TRANSMISSION_ENDINGS);
        steps.push(ending);
        /** Replies the ending may leave unsent: the server saw the connection end while they ran. */
        let mayBeCut = true;
        switch (ending) {
          case 'NBD_CMD_DISC':
            mayBeCut = false;
            await within(context(), client.disconnect());
            break;
          case 'bad magic': {
            mayBeCut = false;
            const magic = rng.pick([0, NBD_SIMPLE_REPLY_MAGIC, (NBD_REQUEST_MAGIC ^ (1 << rng.below(31))) >>> 0]);
            client.socket.write(requestHeader(rng.pick([NBD_CMD.READ, NBD_CMD.WRITE, NBD_CMD.DISC]), 0, 512, { magic }));
            await within(context(), client.closed());
            break;
          }
          case 'short WRITE payload, half-close':
          case 'short WRITE payload, destroy': {
            const announced = rng.pick([rng.between(2, 64 * KiB), MAX_REQUEST_BYTES, MAX_REQUEST_BYTES + 1, 0xffff_ffff]);
            const offset = startIn(rng, GUARDED[0]!, Math.min(announced, GUARDED[0]![1]));
            const data = rng.bytes(rng.below(Math.min(announced, 64 * KiB)));
            steps.push(`WRITE at ${offset} announcing ${announced} bytes, ${data.length} sent`);
            const reply = client.request(NBD_CMD.WRITE, offset, announced, { data });
            reply.catch(() => undefined);
            sent.push({ request: { what: 'the short WRITE', type: NBD_CMD.WRITE, flags: 0, offset: BigInt(offset), length: announced, expect: 'error' }, reply });
            await new Promise<void>((resolve) => client.socket.write(Buffer.alloc(0), () => resolve()));
            if (ending.endsWith('destroy')) client.destroy();
            else {
              client.socket.end();
              await within(context(), client.closed());
            }
            break;
          }
          case 'truncated header, half-close': {
            const header = requestHeader(rng.pick([NBD_CMD.READ, NBD_CMD.WRITE, NBD_CMD.DISC]), rng.u64(), rng.below(2 ** 32));
            client.socket.end(header.subarray(0, rng.between(1, header.length - 1)));
            await within(context(), client.closed());
            break;
          }
          default:
            client.destroy();
        }

        const outcomes = await within(context(), Promise.allSettled(sent.map((s) => s.reply)));
        outcomes.forEach((outcome, i) => {
          const { request } = sent[i]!;
          const about = `${context()}: request ${i} (${request.what})`;
          if (outcome.status === 'rejected') {
            assert.ok(mayBeCut && outcome.reason instanceof ConnectionClosed, `${about}: ${String(outcome.reason)}`);
            return;
          }
          const { error, data, chunks, status } = outcome.value;
          assert.ok(error === 0 || KNOWN_ERRORS.has(error), `${about}: error value ${error}`);
          if (structured && request.type === NBD_CMD.READ) assert.ok(chunks?.length, `${about}: a read answered with a simple reply`);
          if (request.expect === 'ok' && request.type === NBD_CMD.BLOCK_STATUS) {
            const described = (status?.extents ?? []).map(([length]) => length);
            assert.ok(described.length >= 1 && described.every((l) => l > 0), `${about}: descriptors ${described.join(', ')}`);
            assert.ok(described.reduce((a, b) => a + b, 0) <= request.length, `${about}: described past the request`);
            if (request.flags & NBD_CMD_FLAG.REQ_ONE) assert.equal(described.length, 1, `${about}: REQ_ONE`);
          }
          if (request.expect === 'error') assert.notEqual(error, 0, `${about}: accepted`);
          if (request.expect === 'ok') assert.equal(error, 0, `${about}: refused`);
          if (request.expect === 'ok' && request.type === NBD_CMD.READ) {
            const start = Number(request.offset);
            const inGuarded = GUARDED.some(([from, to]) => start >= from && start + request.length <= to);
            if (inGuarded) assert.ok(data?.equals(written.subarray(start, start + request.length)), `${about}: read other bytes than were written`);
          }
        });
        await serverSideEnded(clientPort, since, context());
      } finally {
        client.destroy();
      }
    }
    assertServerSound();
  });

  test('afterwards: a fresh client writes and reads back, the guarded sectors are unchanged, the server closes at once', async () => {
    const since = watch.entries.length;
    const { client } = await RawNbdClient.open(port, 'disk');
    const clientPort = client.socket.localPort!;
    for (const [start, end] of GUARDED) {
      const { error, data } = await client.request(NBD_CMD.READ, start, end - start);
      assert.equal(error, 0);
      assert.ok(data!.equals(written.subarray(start, end)), `seed ${SEED}: guarded bytes [${start}, ${end}) changed during the fuzzing`);
    }
    const pattern = Buffer.alloc(100 * KiB + 123);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 131 + 7) & 0xff;
    const at = SCRATCH[0] + 777; // unaligned: partial sectors at both ends
    assert.equal((await client.request(NBD_CMD.WRITE, at, pattern.length, { data: pattern, flags: NBD_CMD_FLAG.FUA })).error, 0);
    assert.equal((await client.request(NBD_CMD.FLUSH, 0, 0)).error, 0);
    assert.ok((await client.request(NBD_CMD.READ, at, pattern.length)).data!.equals(pattern));
    await client.disconnect();
    await serverSideEnded(clientPort, since, 'the fresh client');
    assertServerSound();
    // Sockets the fuzzing's clients left (ended by the server, their FIN unread) must not hold it up.
    await within(`seed ${SEED}: server.close() with every client gone`, server.close(), CLOSE_DEADLINE_MS);
  });
});
