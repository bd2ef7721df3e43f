// The adapter's end of the block stream (block-transport.ts over block-stream.ts) against a
// stand-in data plane that speaks the frames and checks each request's seal: answers arriving out
// of order and cut at any byte land in the right caller's buffers and open there; a stream lost
// before a request's answer began is replaced and the request sent again; a problem under seq 0
// answers every waiting request; an answer that does not hold its seal is an error, never bytes;
// an upgrade the service refuses comes back as its problem.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import {
  ANSWER_PROBLEM,
  ANSWER_SEALED,
  BLOCK_STREAM_PROTOCOL,
  REQUEST_HEADER_BYTES,
  blockRequestUrl,
  blockStreamPath,
  decodeRequestHeader,
  encodeAnswerHeader,
  BODY_SEALS,
  openBody,
  parseSessionAuthorization,
  sealBody,
  type RequestFrameHeader,
} from '@sealkeep/crypto';
import { AnswerSealError, BlockTransport, type ProblemAnswer } from './block-transport.js';

const key = Buffer.alloc(32, 3);
const sessionId = 'stream-session-000000x';

/** How the stand-in behaves: answer in reverse order, a byte at a time; drop the first stream after a frame; close every stream with a problem (with a frame waiting, or once every frame is answered); answer nothing; break the seal; refuse the upgrade. */
let mode: 'reverse-bytewise' | 'drop-once' | 'close-with-problem' | 'answer-then-close' | 'silent' | 'bad-seal' | 'refuse' | 'big-problem' | 'stall-then-close' = 'reverse-bytewise';
/** What a stalled stream received in all, header and body (stall-then-close), once it closed. */
let stalled: Promise<Buffer> | null = null;
let dropped = 0;
const upgrades: string[] = [];
const sockets = new Set<net.Socket>();

const server = net.createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => undefined);
  let bytes = Buffer.alloc(0);
  let upgraded = false;
  const held: Array<{ frame: RequestFrameHeader; body: Buffer }> = [];
  socket.on('data', (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk]);
    if (!upgraded) {
      const end = bytes.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = bytes.toString('latin1', 0, end);
      bytes = bytes.subarray(end + 4);
      const auth = parseSessionAuthorization(/authorization: (.*)/i.exec(head)?.[1]);
      assert.ok(auth && openBody(key, auth.seq, 'request', 'encrypted', 'GET', blockStreamPath(sessionId), [], auth.tag), 'the upgrade is sealed under the session');
      upgrades.push(head.split('\r\n')[0]!);
      if (mode === 'refuse') {
        const problem = JSON.stringify({ type: 'https://sealkeep.dev/problems/session-ended', status: 410, reason: 'closed' });
        socket.end(`HTTP/1.1 410 Gone\r\nContent-Type: application/problem+json\r\nContent-Length: ${problem.length}\r\nConnection: close\r\n\r\n${problem}`);
        return;
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${BLOCK_STREAM_PROTOCOL}\r\n\r\n`);
      upgraded = true;
    }
    if (mode === 'stall-then-close' && !stalled) {
      // Reads nothing more for a while (TCP fills, the client's writes queue up), then closes the
      // stream with a problem under seq 0, and keeps what still arrives until the client is gone.
      socket.pause();
      const kept: Buffer[] = [bytes];
      stalled = new Promise((resolve) => {
        setTimeout(() => {
          const problem = Buffer.from(JSON.stringify({ type: 'https://sealkeep.dev/problems/session-ended', status: 410, reason: 'closed' }));
          socket.write(Buffer.concat([encodeAnswerHeader({ length: problem.length, status: 410, kind: ANSWER_PROBLEM, seq: 0, tag: Buffer.alloc(16) }), problem]));
          socket.removeAllListeners('data');
          socket.on('data', (c: Buffer) => kept.push(c));
          socket.on('close', () => resolve(Buffer.concat(kept)));
          setTimeout(() => resolve(Buffer.concat(kept)), 2000); // a client that never closes: what came by then
          socket.resume();
        }, 300);
      });
      return;
    }
    while (bytes.length >= REQUEST_HEADER_BYTES) {
      const frame = decodeRequestHeader(bytes, 1 << 24);
      assert.equal(typeof frame, 'object');
      const f = frame as RequestFrameHeader;
      if (bytes.length < REQUEST_HEADER_BYTES + f.length) return;
      const body = Buffer.from(bytes.subarray(REQUEST_HEADER_BYTES, REQUEST_HEADER_BYTES + f.length));
      bytes = bytes.subarray(REQUEST_HEADER_BYTES + f.length);
      assert.ok(openBody(key, f.seq, 'request', BODY_SEALS[f.op].request, 'POST', blockRequestUrl(sessionId, f.op, f.lba), [body], f.tag), 'each frame is sealed under its seq, op and LBA');
      held.push({ frame: f, body });
    }
    if (mode === 'silent') return; // (frames read, never answered)
    if (mode === 'drop-once' && held.length > 0 && dropped === 0) {
      dropped++;
      return socket.destroy();
    }
    if (mode === 'big-problem' && held.length > 0) {
      // An integrity failure naming thousands of sectors: far over the client's 16 KiB scratch buffer.
      const lbas = Array.from({ length: 4096 }, (_, i) => String(1_000_000 + i));
      const problem = Buffer.from(JSON.stringify({ type: 'https://sealkeep.dev/problems/integrity-check-failed', status: 422, detail: `sectors ${lbas.join(', ')} failed`, lbas }));
      const { frame } = held.shift()!;
      void writeCut(socket, Buffer.concat([encodeAnswerHeader({ length: problem.length, status: 422, kind: ANSWER_PROBLEM, seq: frame.seq, tag: Buffer.alloc(16) }), problem]));
      return;
    }
    if (mode === 'close-with-problem' && held.length > 0) {
      const problem = Buffer.from(JSON.stringify({ type: 'https://sealkeep.dev/problems/session-ended', status: 410, reason: 'key-disabled' }));
      return socket.end(Buffer.concat([encodeAnswerHeader({ length: problem.length, status: 410, kind: ANSWER_PROBLEM, seq: 0, tag: Buffer.alloc(16) }), problem]));
    }
    // Three requests at a time (or whatever a single caller sent): answered last first.
    if (held.length < (mode === 'reverse-bytewise' ? 3 : 1)) return;
    const answers = held.splice(0).reverse().map(({ frame, body }) => {
      const answer = Buffer.from(body.map((b) => b ^ 0xff));
      const tag = sealBody(key, frame.seq, 'answer', BODY_SEALS[frame.op].answer, 'POST', blockRequestUrl(sessionId, frame.op, frame.lba), [answer]);
      if (mode === 'bad-seal') tag[0]! ^= 1;
      return Buffer.concat([encodeAnswerHeader({ length: answer.length, status: 200, kind: ANSWER_SEALED, seq: frame.seq, tag }), answer]);
    });
    void writeCut(socket, Buffer.concat(answers));
    if (mode === 'answer-then-close') {
      // Later, with nothing waiting: the session ended (idle), and the service says so as it closes the stream.
      const problem = Buffer.from(JSON.stringify({ type: 'https://sealkeep.dev/problems/session-ended', status: 410, reason: 'idle' }));
      setTimeout(() => socket.end(Buffer.concat([encodeAnswerHeader({ length: problem.length, status: 410, kind: ANSWER_PROBLEM, seq: 0, tag: Buffer.alloc(16) }), problem])), 50);
    }
  });
});

/** Writes bytes a piece at a time with pauses, so the client's reads end at odd places: one byte, then across headers. */
async function writeCut(socket: net.Socket, bytes: Buffer): Promise<void> {
  const cuts = mode === 'reverse-bytewise' ? [1, 2, 3, 31, 33, 40, 1000, 4133, 4200] : [];
  let from = 0;
  for (const cut of [...cuts.filter((c) => c < bytes.length), bytes.length]) {
    socket.write(bytes.subarray(from, cut));
    from = cut;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

let transport: BlockTransport;
before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
after(() => {
  for (const s of sockets) s.destroy();
  server.close();
});
const newTransport = () => new BlockTransport({ baseUrl: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, sessionId, key, connections: 4, timeoutMs: 5000, stream: true });
const octets = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

/** One encrypt (or decrypt) request of `n` bytes: its answer (the stand-in's: each byte inverted) lands in two sinks. */
async function encrypt(t: BlockTransport, lba: bigint, n: number, seed: number, op: 'encrypt' | 'decrypt' = 'encrypt'): Promise<{ answer: ProblemAnswer | null; sinks: Buffer[]; plain: Buffer }> {
  const plain = octets(n, seed);
  const sinks = [Buffer.alloc(n / 2), Buffer.alloc(n / 2)];
  const answer = await t.block(op, lba, [Buffer.from(plain)], sinks);
  return { answer, sinks, plain };
}

test('answers out of order, cut at any byte, land in their own callers’ sinks and open there (decrypted or only checked)', async () => {
  mode = 'reverse-bytewise';
  transport = newTransport();
  const results = await Promise.all([encrypt(transport, 0n, 4096, 1), encrypt(transport, 8n, 8192, 2, 'decrypt'), encrypt(transport, 16n, 512, 3)]);
  for (const { answer, sinks, plain } of results) {
    assert.equal(answer, null);
    assert.ok(Buffer.concat(sinks).equals(Buffer.from(plain.map((b) => b ^ 0xff))));
  }
  transport.destroy();
});

test('a stream lost before a request’s answer began is replaced, and the request sent again on the new one', async () => {
  mode = 'drop-once';
  dropped = 0;
  const before = upgrades.length;
  transport = newTransport();
  const { answer, sinks, plain } = await encrypt(transport, 4n, 4096, 9);
  assert.equal(answer, null);
  assert.ok(Buffer.concat(sinks).equals(Buffer.from(plain.map((b) => b ^ 0xff))), 'the answer to the request sent again (its parts unsealed first)');
  assert.equal(upgrades.length - before, 2, 'a second stream was opened');
  transport.destroy();
});

test('a problem under seq 0 answers every waiting request; an answer that does not hold its seal is an error', async () => {
  mode = 'close-with-problem';
  transport = newTransport();
  const answers = await Promise.all([encrypt(transport, 0n, 4096, 1), encrypt(transport, 8n, 4096, 2)]);
  for (const { answer } of answers) {
    assert.equal(answer?.status, 410);
    assert.equal(answer?.problem.reason, 'key-disabled');
  }
  transport.destroy();
  mode = 'bad-seal';
  transport = newTransport();
  await assert.rejects(encrypt(transport, 0n, 4096, 1), AnswerSealError);
  transport.destroy();
});

test('a stream the service closes with a problem while nothing waits is still heard: the session learns it ended', async () => {
  mode = 'answer-then-close';
  transport = newTransport();
  const heard: ProblemAnswer[] = [];
  transport.onStreamClosedWith = (answer) => heard.push(answer);
  const { answer } = await encrypt(transport, 0n, 4096, 1);
  assert.equal(answer, null, 'the request was answered');
  for (let i = 0; i < 1000 && heard.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10)); // (up to 10 s: a loaded machine)
  assert.deepEqual(heard.map((a) => [a.status, a.problem.reason]), [[410, 'idle']]);
  transport.destroy();
});

test('a stream idle past its time-out still gives up a request the service then leaves unanswered (ETIMEDOUT)', { timeout: 30_000 }, async () => {
  mode = 'reverse-bytewise';
  const t = new BlockTransport({ baseUrl: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, sessionId, key, connections: 4, timeoutMs: 300, stream: true });
  await Promise.all([encrypt(t, 0n, 4096, 1), encrypt(t, 8n, 4096, 2), encrypt(t, 16n, 4096, 3)]);
  await new Promise((resolve) => setTimeout(resolve, 700)); // idle: the time-out passes with nothing waiting
  mode = 'silent';
  const started = Date.now();
  await assert.rejects(encrypt(t, 0n, 4096, 4), (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT');
  // (300 ms of time-out; the bound is a deadline for a loaded machine, far short of never: a request left unanswered with no time-out hangs until the test's own 30 s)
  assert.ok(Date.now() - started < 10_000, `given up in ${Date.now() - started} ms`);
  t.destroy();
  mode = 'reverse-bytewise';
});

test('an upgrade the service refuses comes back as its problem', async () => {
  mode = 'refuse';
  transport = newTransport();
  const { answer } = await encrypt(transport, 0n, 4096, 1);
  assert.equal(answer?.status, 410);
  assert.equal(answer?.problem.reason, 'closed');
  transport.destroy();
});

test('a problem document larger than the scratch buffer is read whole, and the stream goes on', async () => {
  mode = 'big-problem';
  transport = newTransport();
  const { answer } = await encrypt(transport, 0n, 4096, 1);
  assert.equal(answer?.status, 422);
  assert.equal((answer?.problem.lbas as string[]).length, 4096);
  mode = 'reverse-bytewise';
  const after = await Promise.all([encrypt(transport, 0n, 4096, 1), encrypt(transport, 8n, 4096, 2), encrypt(transport, 16n, 4096, 3)]);
  assert.deepEqual(after.map((r) => r.answer), [null, null, null], 'the same stream serves on');
  transport.destroy();
});

test('closed under seq 0 while a frame still waits to leave: not one byte of it goes out unsealed', async () => {
  mode = 'stall-then-close';
  stalled = null;
  transport = newTransport();
  const marker = Buffer.alloc(16 << 20, 'SECTOR-PLAINTEXT');
  const parts = [Buffer.from(marker)];
  const answer = await transport.block('encrypt', 0n, parts, [Buffer.alloc(marker.length)]);
  assert.equal(answer?.status, 410);
  assert.ok(parts[0]!.equals(marker), 'the caller has its plaintext back');
  const received = await stalled!;
  assert.ok(received.length > REQUEST_HEADER_BYTES, 'some of the frame was sent before the stream closed');
  assert.equal(received.indexOf('SECTOR-PLAINTEXT'), -1, `no plaintext on the wire (${received.length} bytes received)`);
  transport.destroy();
});
