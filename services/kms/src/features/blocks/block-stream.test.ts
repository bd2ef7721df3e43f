// The block stream on a listening data plane, driven byte by byte: the upgrade sealed under the
// session; frames pipelined and answered each under its own seq, sealed as the block route seals
// them; a frame that does not hold its seal, replays a seq or asks for sectors past the volume is
// refused and the stream goes on; a frame that does not parse closes the stream with a problem
// under seq 0, as does the end of its session; the upgrade is refused as any request would be.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  ANSWER_PROBLEM,
  ANSWER_SEALED,
  BLOCK_STREAM_PROTOCOL,
  blockRequestUrl,
  blockStreamPath,
  encodeRequestHeader,
  BODY_SEALS,
  openBody,
  sealBody,
  sessionAuthorization,
  type AnswerFrameHeader,
  type BlockOp,
} from '@sealkeep/crypto';
import { dataPlane, generations as gens, Raw, type DataPlane } from './data-plane.fixture.js';
import { serverFor } from '../../http/listen.js';
import { eventually } from '../../test-kit.fixture.js';
import { MAX_STREAM_BYTES, streamBodyBytes, streamTimeouts } from './block-stream.js';
import { binaryBodyBytes } from '../../http/binary-body.js';
import { upgradedReads } from '../../http/upgraded-reads.js';
import type { Express } from 'express';

/** A test that waits for bytes that never come fails here, instead of holding the suite. */
const LIMIT = { timeout: 30_000 };

let d: DataPlane;
let port: number;
let server: ReturnType<typeof serverFor>;
before(async () => {
  d = await dataPlane();
  server = serverFor(d.dataApp as unknown as Express).listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});
after(async () => {
  for (const raw of opened) raw.socket.destroy();
  await d.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});


const opened = new Set<Raw>();

/** A connection to the listening data plane, read by hand (Raw), closed after the tests. */
async function connectRaw(): Promise<Raw> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const raw = new Raw(socket);
  opened.add(raw);
  return raw;
}

let seq = 1_000_000;

/**
 * Registers `body` twice: as the stream reads in production (bodies straight from the kernel into
 * their memory, http/upgraded-reads.ts), and as it reads a connection that cannot move (chunks
 * from 'data' events, copied).
 */
function inBothReadModes(name: string, body: () => Promise<void>): void {
  for (const intoOwnMemory of [true, false]) {
    test(`${name} (${intoOwnMemory ? 'read into its own memory' : "read from 'data' events"})`, LIMIT, async () => {
      upgradedReads.intoOwnMemory = intoOwnMemory;
      try {
        await body();
      } finally {
        upgradedReads.intoOwnMemory = true;
      }
    });
  }
}

/** Opens a session on a ready VM and its stream (the upgrade sealed as the SDK seals it). */
async function openStream(opts: Parameters<DataPlane['readyVm']>[0] = {}) {
  const vm = await d.readyVm(opts);
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  assert.equal(res.status, 201, res.text);
  const sessionId = res.body.sessionId as string;
  const raw = await connectRaw();
  const s = ++seq;
  const tag = sealBody(key!, s, 'request', 'encrypted', 'GET', blockStreamPath(sessionId), []);
  raw.socket.write(`GET ${blockStreamPath(sessionId)} HTTP/1.1\r\nHost: sealkeep\r\nConnection: Upgrade\r\nUpgrade: ${BLOCK_STREAM_PROTOCOL}\r\nAuthorization: ${sessionAuthorization(s, tag)}\r\n\r\n`);
  const upgraded = await raw.http();
  assert.equal(upgraded.status, 101, upgraded.head);
  assert.match(upgraded.head, new RegExp(`upgrade: ${BLOCK_STREAM_PROTOCOL}`, 'i'));
  return { raw, key: key!, sessionId, vm };
}

/** A request frame: `body` sealed (a copy) under `frameSeq` for op at lba. */
function frame(key: Buffer, sessionId: string, op: BlockOp, lba: bigint, body: Buffer, frameSeq = ++seq): { bytes: Buffer; seq: number } {
  const sealed = Buffer.from(body);
  const tag = sealBody(key, frameSeq, 'request', BODY_SEALS[op].request, 'POST', blockRequestUrl(sessionId, op, lba), [sealed]);
  return { bytes: Buffer.concat([encodeRequestHeader({ length: sealed.length, op, seq: frameSeq, lba, tag }), sealed]), seq: frameSeq };
}

const problemOf = (a: { header: AnswerFrameHeader; body: Buffer }) => {
  assert.equal(a.header.kind, ANSWER_PROBLEM);
  return JSON.parse(a.body.toString('utf8')) as Record<string, unknown>;
};

inBothReadModes('pipelined frames are each answered under their own seq, sealed as the block route seals: sectors round-trip', async () => {
  const { raw, key, sessionId } = await openStream();
  const n = 8;
  const plain = Array.from({ length: 4 }, () => randomBytes(4096 * n));
  const sent = plain.map((p, i) => frame(key, sessionId, 'encrypt-sign', BigInt(i * n), Buffer.concat([gens(n), p])));
  raw.socket.write(Buffer.concat(sent.map((f) => f.bytes)));
  const written = new Map<number, Buffer>();
  for (let i = 0; i < sent.length; i++) {
    const { header, body } = await raw.answer();
    assert.equal(header.kind, ANSWER_SEALED, body.toString());
    const index = sent.findIndex((f) => f.seq === header.seq);
    assert.ok(index >= 0 && !written.has(index), `seq ${header.seq} answers one request, once`);
    assert.ok(openBody(key, header.seq, 'answer', 'authenticated', 'POST', blockRequestUrl(sessionId, 'encrypt-sign', BigInt(index * n)), [body], header.tag), 'the answer holds its seal under its seq');
    assert.equal(body.length, n * (4096 + 32));
    assert.ok(!body.subarray(0, 4096 * n).equals(plain[index]!));
    written.set(index, body);
  }
  const reads = [...written].map(([i, out]) => frame(key, sessionId, 'verify-decrypt', BigInt(i * n), Buffer.concat([gens(n), out])));
  raw.socket.write(Buffer.concat(reads.map((f) => f.bytes)));
  for (let i = 0; i < reads.length; i++) {
    const { header, body } = await raw.answer();
    const index = [...written.keys()][reads.findIndex((f) => f.seq === header.seq)]!;
    assert.ok(!body.equals(plain[index]!), 'plaintext sectors never cross in the clear');
    assert.ok(openBody(key, header.seq, 'answer', 'encrypted', 'POST', blockRequestUrl(sessionId, 'verify-decrypt', BigInt(index * n)), [body], header.tag));
    assert.ok(body.equals(plain[index]!), 'verify-decrypt gives back what was written');
  }
  raw.socket.destroy();
  // The upgrade is logged once (101), and each frame as a request of the block route, under the upgrade's request id and its seq.
  const upgrade = d.requestLog.find((e) => e.route === '/v1/block-sessions/:sessionId/stream' && e.status === 101);
  assert.ok(upgrade, 'the upgrade is in the request log');
  for (const f of [...sent, ...reads]) {
    const entry = d.requestLog.find((e) => e.requestId.endsWith(`#${f.seq}`));
    assert.equal(entry?.route, '/v1/block-sessions/:sessionId/blocks/:op');
    assert.equal(entry?.status, 200);
    assert.equal(entry?.principal, 'hv:vpxuser@host-07');
  }
});

test('a frame that does not hold its seal, replays a seq, or passes the end of the volume is refused, and the stream goes on', LIMIT, async () => {
  const { raw, key, sessionId } = await openStream({ sectors: 64 });
  const good = frame(key, sessionId, 'encrypt-sign', 0n, Buffer.concat([gens(1), randomBytes(4096)]));
  const altered = frame(key, sessionId, 'encrypt-sign', 1n, Buffer.concat([gens(1), randomBytes(4096)]));
  altered.bytes[altered.bytes.length - 1]! ^= 1;
  const replay = frame(key, sessionId, 'encrypt-sign', 2n, Buffer.concat([gens(1), randomBytes(4096)]), good.seq);
  const pastEnd = frame(key, sessionId, 'encrypt-sign', 63n, Buffer.concat([gens(2), randomBytes(8192)]));
  // Elsewhere in the stream, the seal binds op and LBA: a frame sealed for LBA 5 sent as LBA 6 does not open.
  const moved = frame(key, sessionId, 'encrypt-sign', 5n, Buffer.concat([gens(1), randomBytes(4096)]));
  moved.bytes.writeBigUInt64BE(6n, 16);
  raw.socket.write(good.bytes);
  assert.equal((await raw.answer()).header.kind, ANSWER_SEALED);
  for (const [f, status, slug] of [
    [altered, 401, 'unauthenticated'],
    [replay, 401, 'unauthenticated'],
    [pastEnd, 400, 'validation-failed'],
    [moved, 401, 'unauthenticated'],
  ] as const) {
    raw.socket.write(f.bytes);
    const a = await raw.answer();
    assert.equal(a.header.seq, f.seq);
    assert.equal(a.header.status, status);
    assert.equal(problemOf(a).type, `https://sealkeep.dev/problems/${slug}`);
  }
  const after = frame(key, sessionId, 'encrypt-sign', 3n, Buffer.concat([gens(1), randomBytes(4096)]));
  raw.socket.write(after.bytes);
  const a = await raw.answer();
  assert.equal(a.header.kind, ANSWER_SEALED, 'the stream still serves');
  assert.equal(a.header.seq, after.seq);
  raw.socket.destroy();
});

test('a sector that fails its integrity check is named, by LBA, in its frame’s problem', LIMIT, async () => {
  const { raw, key, sessionId } = await openStream();
  const w = frame(key, sessionId, 'encrypt-sign', 10n, Buffer.concat([gens(2), randomBytes(8192)]));
  raw.socket.write(w.bytes);
  const { header, body: out } = await raw.answer();
  assert.ok(openBody(key, w.seq, 'answer', 'authenticated', 'POST', blockRequestUrl(sessionId, 'encrypt-sign', 10n), [out], header.tag));
  const tampered = Buffer.concat([gens(2), out]);
  tampered[16 + 4096 + 9]! ^= 1;
  const r = frame(key, sessionId, 'verify-decrypt', 10n, tampered);
  raw.socket.write(r.bytes);
  const a = await raw.answer();
  assert.equal(a.header.status, 422);
  assert.deepEqual(problemOf(a).lbas, ['11']);
  raw.socket.destroy();
});

test('a frame that does not parse is answered under seq 0 and the stream closes', LIMIT, async () => {
  for (const [mangle, detail] of [
    [(b: Buffer) => void (b[4] = 9), /unknown operation code 9/],
    [(b: Buffer) => void (b[6] = 1), /reserved bytes/],
    [(b: Buffer) => b.writeUInt32BE(0x7fffffff, 0), /at most/],
    [(b: Buffer) => b.writeBigUInt64BE(0n, 8), /sequence number/],
  ] as const) {
    const { raw, key, sessionId } = await openStream();
    const f = frame(key, sessionId, 'encrypt', 0n, randomBytes(4096));
    mangle(f.bytes);
    raw.socket.write(f.bytes);
    const a = await raw.answer();
    assert.equal(a.header.seq, 0);
    assert.equal(a.header.status, 400);
    const problem = problemOf(a);
    assert.equal(problem.type, 'https://sealkeep.dev/problems/malformed-request');
    assert.match(String(problem.detail), detail);
    raw.socket.end();
    await raw.closed;
  }
});

test('when the session ends, its stream is told why under seq 0 and closes', LIMIT, async () => {
  const { raw, sessionId } = await openStream();
  await d.sessions.end(sessionId, 'closed');
  const a = await raw.answer();
  assert.equal(a.header.seq, 0);
  assert.equal(a.header.status, 410);
  assert.equal(problemOf(a).reason, 'closed');
  raw.socket.end();
  await raw.closed;
});

test('the upgrade is refused as any request is: without the protocol 426, a seal that does not hold 401, an ended session 410', LIMIT, async () => {
  const vm = await d.readyVm();
  const { res, key } = await d.openSession(vm.vmId, vm.volumeId);
  const sessionId = res.body.sessionId as string;
  const path = blockStreamPath(sessionId);
  const ask = async (headers: string, withSeq = ++seq, sealKey = key!) => {
    const raw = await connectRaw();
    const tag = sealBody(sealKey, withSeq, 'request', 'encrypted', 'GET', path, []);
    raw.socket.write(`GET ${path} HTTP/1.1\r\nHost: sealkeep\r\n${headers}Authorization: ${sessionAuthorization(withSeq, tag)}\r\n\r\n`);
    const answer = await raw.http();
    await raw.closed;
    return answer;
  };
  const plain = await ask('Connection: close\r\n');
  assert.equal(plain.status, 426);
  assert.match(plain.head, new RegExp(`upgrade: ${BLOCK_STREAM_PROTOCOL}`, 'i'));
  const other = await ask('Connection: Upgrade\r\nUpgrade: websocket\r\n');
  assert.equal(other.status, 426);
  // An adapter of the earlier session format (every body encrypted) is told which protocol is spoken here.
  const earlier = await ask('Connection: Upgrade\r\nUpgrade: sealkeep-blocks/1\r\n');
  assert.equal(earlier.status, 426);
  assert.match(earlier.head, /upgrade: sealkeep-blocks\/2/i);
  const forged = await ask(`Connection: Upgrade\r\nUpgrade: ${BLOCK_STREAM_PROTOCOL}\r\n`, ++seq, randomBytes(32));
  assert.equal(forged.status, 401);
  assert.equal(JSON.parse(forged.body).type, 'https://sealkeep.dev/problems/unauthenticated');
  await d.sessions.end(sessionId, 'closed');
  const ended = await ask(`Connection: Upgrade\r\nUpgrade: ${BLOCK_STREAM_PROTOCOL}\r\n`);
  assert.equal(ended.status, 410);
  assert.equal(JSON.parse(ended.body).reason, 'closed');
});

test('an upgrade offered to an ordinary route is ignored (it answers as usual), unless it has a body', LIMIT, async () => {
  const raw = await connectRaw();
  raw.socket.write(`GET /v1/service-key HTTP/1.1\r\nHost: sealkeep\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`);
  const answer = await raw.http();
  assert.equal(answer.status, 200, answer.head);
  assert.ok(JSON.parse(answer.body).kid);
  await raw.closed;
  const withBody = await connectRaw();
  withBody.socket.write(`POST /v1/token HTTP/1.1\r\nHost: sealkeep\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\ngrant_type=`);
  const refused = await withBody.http();
  assert.equal(refused.status, 400, refused.head);
  await withBody.closed;
});

test('the service holds at most 16 frames of a stream at once, however many arrive in one read', LIMIT, async () => {
  const { raw, key, sessionId } = await openStream();
  const pool = d.sessions.pool;
  const run = pool.run.bind(pool);
  let running = 0;
  let most = 0;
  pool.run = async (...args: Parameters<typeof run>) => {
    most = Math.max(most, ++running);
    try {
      return await run(...args);
    } finally {
      running--;
    }
  };
  try {
    const frames = Array.from({ length: 100 }, (_, i) => frame(key, sessionId, 'encrypt-sign', BigInt(i), Buffer.concat([gens(1), randomBytes(4096)])));
    raw.socket.write(Buffer.concat(frames.map((f) => f.bytes)));
    const seqs = new Set<number>();
    for (let i = 0; i < frames.length; i++) {
      const a = await raw.answer();
      assert.equal(a.header.kind, ANSWER_SEALED);
      seqs.add(a.header.seq);
    }
    assert.equal(seqs.size, 100, 'every frame answered once');
    assert.ok(most <= 16, `at most 16 batches ran at once (saw ${most})`);
  } finally {
    pool.run = run;
    raw.socket.destroy();
  }
});

inBothReadModes(`the service holds at most ${MAX_STREAM_BYTES >> 20} MiB of a stream's bodies at once, and gives every byte back`, async () => {
  const { raw, key, sessionId } = await openStream({ sectors: 12 * 2048 });
  const pool = d.sessions.pool;
  const run = pool.run.bind(pool);
  let running = 0;
  let most = 0;
  // The first batches wait until more than half the limit has piled up and then no frame has
  // arrived for a while: as many pile up as the service reads. (Short of half, they wait until no
  // frame has arrived for 10 s — a service that reads no further — and the test fails below; a slow
  // read on a loaded machine cannot release them early.)
  let release!: () => void;
  const piled = new Promise<void>((resolve) => (release = resolve));
  let quiet: NodeJS.Timeout | undefined;
  pool.run = async (...args: Parameters<typeof run>) => {
    const bytes = args[3].length;
    most = Math.max(most, (running += bytes));
    clearTimeout(quiet);
    quiet = setTimeout(release, running > MAX_STREAM_BYTES / 2 ? 300 : 10_000);
    try {
      await piled;
      return await run(...args);
    } finally {
      running -= bytes;
    }
  };
  try {
    const sectors = 2048; // 8 MiB of sectors a frame: the byte limit binds before the frame count
    const frames = Array.from({ length: 12 }, (_, i) => frame(key, sessionId, 'encrypt-sign', BigInt(i * sectors), Buffer.concat([gens(sectors), randomBytes(sectors * 4096)])));
    for (const f of frames) raw.socket.write(f.bytes);
    for (let i = 0; i < frames.length; i++) assert.equal((await raw.answer()).header.kind, ANSWER_SEALED);
    assert.ok(most <= MAX_STREAM_BYTES, `at most ${MAX_STREAM_BYTES} body bytes ran at once (saw ${most})`);
    assert.ok(most > MAX_STREAM_BYTES / 2, `frames did pile up (${most} bytes at once)`);
    await eventually(() => streamBodyBytes.used === 0, `every byte given back (${streamBodyBytes.used} held)`);
  } finally {
    clearTimeout(quiet);
    pool.run = run;
    raw.socket.destroy();
  }
});

/** A stream opened with a stalled-answer time of `stalledMs` (for this stream only), over a volume of 12 × 2048 sectors. */
async function openStreamStallingAfter(stalledMs: number) {
  const stalled = streamTimeouts.stalledAnswersMs;
  streamTimeouts.stalledAnswersMs = stalledMs;
  return openStream({ sectors: 12 * 2048 }).finally(() => (streamTimeouts.stalledAnswersMs = stalled));
}

/**
 * The adapter stops taking answers and sends twelve 8 MiB frames: the stream holds what it may,
 * its answers wait, and once it is dropped every byte comes back. How the adapter saw it end.
 */
async function stopTakingAnswers({ raw, key, sessionId }: Awaited<ReturnType<typeof openStream>>): Promise<string | undefined> {
  const reset = raw.closed.then(() => 'closed', (e: NodeJS.ErrnoException) => e.code); // the service resets the connection
  raw.socket.pause(); // the adapter reads nothing more: the answers fill the socket's buffers
  const sectors = 2048;
  for (let i = 0; i < 12; i++) raw.socket.write(frame(key, sessionId, 'encrypt-sign', BigInt(i * sectors), Buffer.concat([gens(sectors), randomBytes(sectors * 4096)])).bytes);
  await eventually(() => streamBodyBytes.used >= MAX_STREAM_BYTES / 2, `the stream holds frames whose answers wait (${streamBodyBytes.used} bytes)`);
  // Held answers are not given back while they wait; once the stream is dropped, all of them are.
  await eventually(() => streamBodyBytes.used === 0, `every byte given back (${streamBodyBytes.used} held)`);
  raw.socket.resume();
  return reset;
}

/** The stalled-answer time of the tests below: long enough that a loaded machine sees the stream hold its frames before it is dropped. */
const STALLED_MS = 2_000;

test('an adapter that takes none of its answers loses the stream, and every byte the stream held comes back', LIMIT, async () => {
  const stream = await openStreamStallingAfter(STALLED_MS);
  const { key, sessionId } = stream;
  assert.ok(['ECONNRESET', 'EPIPE', 'closed'].includes((await stopTakingAnswers(stream))!), 'the adapter sees its stream closed');
  // The operator learns why: one warning, under the stream's request id, naming the session and what it held.
  const warnings = d.connectionWarnings.filter((w) => w.sessionId === sessionId);
  assert.equal(warnings.length, 1, 'one warning for the dropped stream');
  const [warning] = warnings;
  assert.equal(warning!.message, 'block stream dropped: its answers were left untaken');
  assert.equal(warning!.principal, 'hv:vpxuser@host-07');
  assert.deepEqual(warning!.planes, ['data']);
  assert.ok(d.requestLog.some((e) => e.requestId.startsWith(`${String(warning!.requestId)}#`)), "the warning carries the stream's request id, its frames' prefix");
  assert.ok((warning!.answerBytesUntaken as number) > 0 && (warning!.bytesHeld as number) > 0 && (warning!.framesHeld as number) > 0, JSON.stringify(warning));
  assert.ok(!JSON.stringify(warning).includes(key.toString('hex')) && !JSON.stringify(warning).includes(key.toString('base64')), 'no session key in the warning');
});

test('a stream that sat idle past the stalled-answer time, then stops taking its answers, is still dropped', LIMIT, async () => {
  const stream = await openStreamStallingAfter(STALLED_MS);
  await new Promise((resolve) => setTimeout(resolve, STALLED_MS + 1_000)); // idle: the time-out passes with nothing to answer
  assert.ok(['ECONNRESET', 'EPIPE', 'closed'].includes((await stopTakingAnswers(stream))!), 'the adapter sees its stream closed');
  assert.equal(d.connectionWarnings.filter((w) => w.sessionId === stream.sessionId).length, 1, 'one warning for the dropped stream');
});

test('a stream whose batches take longer than the stalled-answer time is not dropped: only answers left untaken count', LIMIT, async () => {
  const stalled = streamTimeouts.stalledAnswersMs;
  streamTimeouts.stalledAnswersMs = 300;
  const { raw, key, sessionId } = await openStream().finally(() => (streamTimeouts.stalledAnswersMs = stalled));
  const pool = d.sessions.pool;
  const run = pool.run.bind(pool);
  pool.run = async (...args: Parameters<typeof run>) => {
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the connection idle meanwhile: nothing read, nothing written
    return run(...args);
  };
  try {
    raw.socket.write(frame(key, sessionId, 'encrypt-sign', 0n, Buffer.concat([gens(1), randomBytes(4096)])).bytes);
    assert.equal((await raw.answer()).header.kind, ANSWER_SEALED);
    assert.deepEqual(d.connectionWarnings.filter((w) => w.sessionId === sessionId), [], 'nothing to warn of');
  } finally {
    pool.run = run;
    raw.socket.destroy();
  }
});

/** A stream that has sent half of a 64-sector frame, which the service is reading. */
async function halfSentFrame() {
  const stream = await openStream();
  const f = frame(stream.key, stream.sessionId, 'encrypt-sign', 0n, Buffer.concat([gens(64), randomBytes(64 * 4096)]));
  stream.raw.socket.write(f.bytes.subarray(0, f.bytes.length / 2));
  await eventually(() => streamBodyBytes.used > 0, 'the frame is being read');
  return { ...stream, f };
}

inBothReadModes('a stream that closes in the middle of a frame gives its bytes back', async () => {
  const { raw } = await halfSentFrame();
  raw.socket.destroy();
  await eventually(() => streamBodyBytes.used === 0, `every byte given back (${streamBodyBytes.used} held)`);
});

inBothReadModes('frames cut anywhere across reads — a header in pieces, a body begun beside its header and ended in reads of its own — are read whole', async () => {
  const { raw, key, sessionId } = await openStream({ sectors: 256 });
  let lba = 0n;
  const frames = [1, 3, 64, 2, 17, 1].map((n) => {
    const f = frame(key, sessionId, 'encrypt-sign', lba, Buffer.concat([gens(n), randomBytes(n * 4096)]));
    lba += BigInt(n);
    return f;
  });
  const bytes = Buffer.concat(frames.map((f) => f.bytes));
  // Pieces of 1 and 7 bytes cut headers (40 bytes) apart; larger ones end inside bodies, or carry a body's end and the next header together.
  const pieces = [1, 7, 40, 1_000, 65_536, 3, 200_000, 30, 4_097];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.min(bytes.length - at, pieces[i % pieces.length]!);
    raw.socket.write(bytes.subarray(at, at + n));
    at += n;
    await new Promise((resolve) => setTimeout(resolve, 2)); // (each piece its own read, mostly)
  }
  const answered = new Set<number>();
  for (let i = 0; i < frames.length; i++) {
    const a = await raw.answer();
    assert.equal(a.header.kind, ANSWER_SEALED, a.body.toString());
    answered.add(a.header.seq);
  }
  assert.deepEqual([...answered].sort(), frames.map((f) => f.seq).sort(), 'every frame answered once, its seal intact');
  raw.socket.destroy();
});

inBothReadModes("a stream whose session ends while a frame is half read closes, gives the frame's bytes back, and drops what still comes", async () => {
  const { raw, key, sessionId, f } = await halfSentFrame();
  await d.sessions.end(sessionId, 'closed');
  const a = await raw.answer();
  assert.equal(a.header.seq, 0);
  assert.equal(problemOf(a).reason, 'closed');
  assert.equal(streamBodyBytes.used, 0, "the frame's bytes came back as the stream closed");
  // The rest of the frame, and another, arrive after the close: read and dropped, nothing run.
  const before = d.requestLog.length;
  raw.socket.write(Buffer.concat([f.bytes.subarray(f.bytes.length / 2), frame(key, sessionId, 'encrypt-sign', 64n, Buffer.concat([gens(1), randomBytes(4096)])).bytes]));
  raw.socket.end();
  await raw.closed;
  assert.equal(d.requestLog.length, before, 'no frame ran after the close');
});

test('a sealed block request for a session this process does not hold, or with a spent seq, is refused before its body is read', LIMIT, async () => {
  const { raw: stream, key, sessionId } = await openStream();
  stream.socket.destroy();
  const url = blockRequestUrl(sessionId, 'encrypt-sign', 0n);
  const ask = async (path: string, frameSeq: number) => {
    const raw = await connectRaw();
    const tag = sealBody(key, frameSeq, 'request', 'encrypted', 'POST', path, [Buffer.alloc(0)]);
    // A body is announced and never sent: only an answer given before reading it arrives.
    raw.socket.write(`POST ${path} HTTP/1.1\r\nHost: sealkeep\r\nContent-Type: application/octet-stream\r\nContent-Length: 16000000\r\nAuthorization: ${sessionAuthorization(frameSeq, tag)}\r\n\r\n`);
    const answer = await raw.http();
    raw.socket.destroy();
    return answer;
  };
  const unknown = await ask(url.replace(sessionId, '00000000-0000-4000-8000-000000000000'), ++seq);
  assert.equal(unknown.status, 410, unknown.head);
  assert.equal((JSON.parse(unknown.body) as { type: string }).type.endsWith('/session-ended'), true);
  const spent = await ask(url, 1); // the upgrade spent seqs above it: 1 is outside the window
  assert.equal(spent.status, 401, spent.head);
  // Not sealed under a session: the permission table decides, on a body no larger than a JSON request's.
  const raw = await connectRaw();
  raw.socket.write(`POST ${url} HTTP/1.1\r\nHost: sealkeep\r\nContent-Type: application/octet-stream\r\nContent-Length: 16000000\r\n\r\n`);
  const unsealed = await raw.http();
  raw.socket.destroy();
  assert.equal(unsealed.status, 413, unsealed.head);
});

test('a block request whose connection closes before its answer began gives its bytes back (pipelined behind a slow one)', LIMIT, async () => {
  const { raw: stream, key, sessionId } = await openStream();
  stream.socket.destroy();
  const pool = d.sessions.pool;
  const run = pool.run.bind(pool);
  let release!: () => void;
  const slow = new Promise<void>((resolve) => (release = resolve));
  pool.run = async (...args: Parameters<typeof run>) => {
    await slow;
    return run(...args);
  };
  try {
    const sealed = (body: Buffer, op: BlockOp = 'encrypt-sign') => {
      const s = ++seq;
      const url = blockRequestUrl(sessionId, op, 0n);
      const tag = sealBody(key, s, 'request', BODY_SEALS[op].request, 'POST', url, [Buffer.from(body)]);
      return `POST ${url} HTTP/1.1\r\nHost: sealkeep\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nAuthorization: ${sessionAuthorization(s, tag)}\r\n\r\n`;
    };
    const first = Buffer.concat([gens(1), randomBytes(4096)]);
    const second = Buffer.concat([gens(256), randomBytes(256 * 4096)]); // past a JSON request's size: held in the budget
    const raw = await connectRaw();
    raw.socket.write(Buffer.concat([Buffer.from(sealed(first)), first, Buffer.from(sealed(second)), second.subarray(0, 100_000)]));
    await eventually(() => binaryBodyBytes.used >= second.length, 'the second body is held while the first runs');
    raw.socket.destroy();
    release();
    await eventually(() => binaryBodyBytes.used === 0, `every byte given back (${binaryBodyBytes.used} held)`);
  } finally {
    release();
    pool.run = run;
  }
});
