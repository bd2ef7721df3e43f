// The data-plane connection's HTTP/1.1 against a raw TCP server that answers byte by byte as a
// test scripts it: answers split anywhere (head, body, between sinks) fill the sinks exactly;
// chunked answers are decoded; an answer with no length, with more or fewer bytes than the
// operation yields, or with bytes nobody asked for fails clearly and its connection is dropped;
// `Connection: close` and a server closing an idle keep-alive connection cost a new connection,
// not a failed request; an answer cut off fails without being sent again; an answer that never
// comes times out; an https: origin is read the same way over TLS. Requests go out sealed under
// the session key and answers are opened (the server here seals them as the service does); an
// answer altered on its way fails, and a request answered with a problem gets its parts back.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ANSWER_TAG_HEADER, openBody, parseSessionAuthorization, sealBody } from '@sealkeep/crypto';
import { AnswerSealError, BlockTransport } from './block-transport.js';

interface Received {
  connection: number;
  head: string;
  body: Buffer;
}

type Script = (socket: net.Socket, request: Received) => void | Promise<void>;

let script: Script = () => undefined;
const received: Received[] = [];
let connections = 0;
const sockets = new Set<net.Socket>();

/** Reads requests off a socket and answers each as the current script says. */
function serve(socket: net.Socket): void {
  const connection = ++connections;
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => undefined);
  let pending = Buffer.alloc(0);
  socket.on('data', async (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = pending.toString('latin1', 0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (pending.length < end + 4 + length) return;
      const request = { connection, head, body: pending.subarray(end + 4, end + 4 + length) };
      pending = pending.subarray(end + 4 + length);
      received.push(request);
      await script(socket, request);
    }
  });
}

const server = net.createServer(serve);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const origin = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
after(() => {
  for (const s of sockets) s.destroy();
  server.close();
});

const sessionKey = Buffer.alloc(32, 7);
const transport = (timeoutMs = 5000) => new BlockTransport({ baseUrl: origin, sessionId: 'session-1', key: sessionKey, connections: 2, timeoutMs, stream: false });
const octets = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** Writes `bytes` in pieces cut at `cuts`, a moment apart, so each lands in a read of its own. */
async function writeCut(socket: net.Socket, bytes: Buffer, cuts: number[]): Promise<void> {
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    socket.write(bytes.subarray(from, cut));
    from = cut;
    await sleep(5);
  }
}

/** The request's method, path, seq and seal, from its head. */
function requestOf(request: Received): { seq: number; tag: Buffer; method: string; path: string } {
  const [method, path] = request.head.split(' ');
  const auth = parseSessionAuthorization(/\r\nAuthorization: ([^\r]+)/.exec(request.head)?.[1]);
  return { seq: auth!.seq, tag: auth!.tag, method: method!, path: path! };
}

/** A received request's body opened under the session key (null when its seal does not hold). */
function opened(request: Received): Buffer | null {
  const { seq, tag, method, path } = requestOf(request);
  const body = Buffer.from(request.body);
  return openBody(sessionKey, seq, 'request', 'encrypted', method, path, [body], tag) ? body : null;
}

/** `body` sealed as the service seals an answer to `request`: the ciphertext, and the header line carrying its tag. */
function sealed(request: Received, body: Buffer): { ciphertext: Buffer; header: string } {
  const { seq, method, path } = requestOf(request);
  const ciphertext = Buffer.from(body);
  const tag = sealBody(sessionKey, seq, 'answer', 'encrypted', method, path, [ciphertext]);
  return { ciphertext, header: `${ANSWER_TAG_HEADER}: ${tag.toString('base64url')}\r\n` };
}

/** A 200 answer to `request` carrying `body`, sealed. */
const binary = (request: Received, body: Buffer, extra = '') => {
  const { ciphertext, header } = sealed(request, body);
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n${header}${extra}\r\n`), ciphertext]);
};

test('an answer cut anywhere — in its head, in its body, across sinks — fills the sinks exactly', async () => {
  const answer = octets(10_000);
  const head = binary({ connection: 0, head: 'POST /v1/blocks/x HTTP/1.1\r\nAuthorization: Sealkeep-Session 1.AAAAAAAAAAAAAAAAAAAAAA', body: Buffer.alloc(0) }, answer).length - answer.length;
  for (const cuts of [[5], [head - 2], [head], [head + 1, head + 4096], [head + 3000, head + 3001, head + 9000]]) {
    script = (socket, request) => writeCut(socket, binary(request, answer), cuts);
    const sinks = [Buffer.alloc(3000), Buffer.alloc(0), Buffer.alloc(6999), Buffer.alloc(1)];
    const t = transport();
    assert.equal(await t.send('POST', '/v1/blocks/x', [octets(100)], sinks), null);
    assert.deepEqual(Buffer.concat(sinks), answer, `cut at ${cuts}`);
    t.destroy();
  }
  const last = received.at(-1)!;
  assert.match(last.head, /^POST \/v1\/blocks\/x HTTP\/1\.1\r\n/);
  assert.match(last.head, /\r\nAuthorization: Sealkeep-Session 1\.[\w-]+\r\n/);
  assert.notDeepEqual(last.body, octets(100), 'the body travels sealed');
  assert.deepEqual(opened(last), octets(100), 'and opens to what was sent');
});

test('an answer altered on its way, not sealed, or sealed for another request fails with AnswerSealError', async () => {
  const t = transport();
  const answer = octets(4096, 11);
  const flipped = (request: Received) => {
    const wire = binary(request, answer);
    wire[wire.length - 100]! ^= 1;
    return wire;
  };
  script = (socket, request) => void socket.write(flipped(request));
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(4096)]), AnswerSealError);
  script = (socket) => void socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${answer.length}\r\n\r\n`), answer]));
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(4096)]), AnswerSealError, 'an answer without its seal');
  let earlier: Buffer | null = null;
  script = (socket, request) => {
    earlier ??= binary(request, answer);
    socket.write(earlier);
  };
  const sinks = [Buffer.alloc(4096)];
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], sinks), null);
  assert.deepEqual(sinks[0], answer);
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(4096)]), AnswerSealError, 'an earlier answer played again');
  script = (socket, request) => void socket.write(binary(request, Buffer.alloc(0)));
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], []), null, 'an empty answer opens too');
  script = (socket) => void socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 0\r\n\r\n');
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], []), AnswerSealError, 'an empty answer (a verify that passed) needs its seal as well');
  t.destroy();
});

test('a request answered with a problem gets its parts back as they were, to be sent again', async () => {
  const t = transport();
  const parts = [octets(16, 2), octets(8192, 3)];
  const problem = JSON.stringify({ type: 'https://sealkeep.dev/problems/integrity-check-failed', lbas: ['7'] });
  script = (socket) => void socket.write(`HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/problem+json\r\nContent-Length: ${problem.length}\r\n\r\n${problem}`);
  const answered = await t.send('POST', '/v1/blocks/x', parts, [Buffer.alloc(8192)]);
  assert.equal((answered as { status: number }).status, 422);
  assert.deepEqual(parts, [octets(16, 2), octets(8192, 3)]);
  assert.deepEqual(opened(received.at(-1)!), Buffer.concat(parts), 'what went out was sealed');
  t.destroy();
});

test('a chunked answer is decoded into the sinks, and a chunked problem is parsed', async () => {
  const answer = octets(5000, 3);
  const chunked = (body: Buffer, type: string, status = '200 OK', header = '') =>
    Buffer.concat([
      Buffer.from(`HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\n${header}\r\n`),
      Buffer.from('7d0;ext=1\r\n'), body.subarray(0, 2000), Buffer.from('\r\n'),
      Buffer.from(`${(body.length - 2000).toString(16)}\r\n`), body.subarray(2000), Buffer.from('\r\n0\r\n\r\n'),
    ]);
  script = (socket, request) => {
    const { ciphertext, header } = sealed(request, answer);
    return writeCut(socket, chunked(ciphertext, 'application/octet-stream', '200 OK', header), [40, 2050, 2060, 4990]);
  };
  const t = transport();
  const sinks = [Buffer.alloc(2500), Buffer.alloc(2500)];
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], sinks), null);
  assert.deepEqual(Buffer.concat(sinks), answer);
  const problem = Buffer.from(JSON.stringify({ type: 'https://sealkeep.dev/problems/session-ended', reason: 'key-disabled', pad: 'x'.repeat(2100) }));
  script = (socket) => writeCut(socket, chunked(problem, 'application/problem+json', '410 Gone'), [60]);
  const answered = await t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(8)]);
  assert.deepEqual(answered, { status: 410, problem: JSON.parse(problem.toString()) });
  t.destroy();
});

test('no length, too many or too few bytes, and bytes nobody asked for fail clearly and drop the connection', async () => {
  const t = transport();
  script = (socket) => void socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\nabcd');
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(4)]), /without a Content-Length/);
  script = (socket, request) => void socket.write(binary(request, octets(12)));
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(8)]), /more bytes than the operation yields/);
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(16)]), /fewer bytes than the operation yields/);
  script = (socket, request) => void socket.write(Buffer.concat([binary(request, octets(8)), Buffer.from('HTTP/1.1 200 OK\r\n')]));
  const before = connections;
  const sinks = [Buffer.alloc(8)];
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], sinks), null);
  assert.deepEqual(sinks[0], octets(8));
  script = (socket, request) => void socket.write(binary(request, octets(8, 9)));
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], sinks), null, 'the next request goes out on a fresh connection');
  assert.deepEqual(sinks[0], octets(8, 9));
  assert.ok(connections > before);
  script = (socket) => void socket.write('SSH-2.0-OpenSSH_9.2\r\n\r\n');
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(8)]), /other than HTTP\/1\.1/);
  t.destroy();
});

test('a head over 16 KiB, a chunk line over it, and an answer cut off fail that request only', async () => {
  const t = transport();
  script = (socket) => void socket.write(`HTTP/1.1 200 OK\r\nX-Padding: ${'p'.repeat(20_000)}\r\n\r\n`);
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(8)]), /answer head is over 16384 bytes/);
  script = (socket) => void socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'0'.repeat(20_000)}`);
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(8)]), /chunk line over 16 KiB/);
  const served = received.length;
  script = (socket, request) => void socket.end(binary(request, octets(64)).subarray(0, 100));
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(64)]), /before its answer was whole/);
  assert.equal(received.length, served + 1, 'a request whose answer began is not sent again');
  script = (socket, request) => void socket.write(binary(request, octets(8)));
  const sinks = [Buffer.alloc(8)];
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], sinks), null, 'and the transport goes on');
  assert.deepEqual(sinks[0], octets(8));
  t.destroy();
});

test('keep-alive: one connection for many requests; `Connection: close` and an idle close cost only a new connection', async () => {
  const t = transport();
  script = (socket, request) => void socket.write(binary(request, octets(64)));
  const first = connections;
  for (let i = 0; i < 5; i++) assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(64)]), null);
  assert.equal(connections, first + 1, 'five requests in turn share one connection');
  script = (socket, request) => {
    socket.write(binary(request, octets(64), 'Connection: close\r\n'));
    socket.end();
  };
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(64)]), null);
  script = (socket, request) => void socket.write(binary(request, octets(64)));
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(64)]), null);
  assert.equal(connections, first + 2);
  // The server closes the idle connection; the transport learns it on its next request and retries once.
  for (const s of sockets) s.destroy();
  await sleep(20);
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(64)]), null);
  assert.equal(connections, first + 3);
  assert.deepEqual(opened(received.at(-1)!), octets(10), 'the request sent again was sealed once, afresh');
  // HTTP/1.0 keeps a connection only when it says so.
  script = (socket, request) => {
    const { ciphertext, header } = sealed(request, octets(64));
    socket.write(Buffer.concat([Buffer.from(`HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 64\r\n${header}\r\n`), ciphertext]));
  };
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(64)]), null);
  script = (socket, request) => void socket.write(binary(request, octets(64)));
  assert.equal(await t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(64)]), null);
  assert.equal(connections, first + 4, "the HTTP/1.0 answer's connection is not used again");
  t.destroy();
});

test('an answer that never comes fails with ETIMEDOUT', async () => {
  const t = transport(200);
  script = () => undefined;
  await assert.rejects(t.send('POST', '/v1/blocks/x', [octets(10)], [Buffer.alloc(8)]), (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT');
  t.destroy();
});

test('over TLS (an https: origin): the answer fills the sinks, and the server certificate is checked', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-block-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  const tlsServer = tls.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, serve);
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  t.after(() => tlsServer.close());
  const answer = octets(100_000, 5);
  script = (socket, request) => writeCut(socket, binary(request, answer), [30, 70_000]);
  // The client in a process that trusts the test's certificate (Node reads NODE_EXTRA_CA_CERTS at start).
  const client = `
    import { BlockTransport } from ${JSON.stringify(fileURLToPath(new URL('./block-transport.ts', import.meta.url)))};
    const t = new BlockTransport({ baseUrl: process.argv[1], key: Buffer.alloc(32, 7), connections: 1, timeoutMs: 5000 });
    const sinks = [Buffer.alloc(60_000), Buffer.alloc(40_000)];
    const r = await t.send('POST', '/v1/blocks/x', [Buffer.alloc(10)], sinks).catch((e) => e.code ?? e.message);
    t.destroy();
    console.log(JSON.stringify({ r, digest: (await import('node:crypto')).createHash('sha256').update(Buffer.concat(sinks)).digest('hex') }));`;
  const run = (trust: boolean) =>
    promisify(execFile)(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', '--input-type=module', '-e', client, `https://localhost:${(tlsServer.address() as net.AddressInfo).port}`], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: trust ? cert : '' },
    }).then(({ stdout }) => JSON.parse(stdout.trim().split('\n').at(-1)!) as { r: unknown; digest: string });
  const trusted = await run(true);
  assert.equal(trusted.r, null);
  assert.equal(trusted.digest, createHash('sha256').update(answer).digest('hex'));
  const untrusted = await run(false);
  assert.equal(untrusted.r, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'a certificate nobody vouches for is refused');
});

test('a problem answered before the body was read: the parts are unsealed only once every byte of them has left, sealed', async () => {
  const marker = Buffer.alloc(16 << 20, 'SECTOR-PLAINTEXT');
  let gotAll!: (bytes: Buffer) => void;
  const all = new Promise<Buffer>((resolve) => (gotAll = resolve));
  // Answers 410 as soon as the head is in, reads nothing for a while (TCP fills, the client's writes queue up), then keeps whatever comes.
  const early = net.createServer((socket) => {
    const kept: Buffer[] = [];
    socket.on('error', () => undefined);
    socket.once('data', (chunk: Buffer) => {
      kept.push(chunk);
      socket.pause();
      const problem = JSON.stringify({ type: 'https://sealkeep.dev/problems/session-ended', status: 410, reason: 'key-disabled' });
      socket.write(`HTTP/1.1 410 Gone\r\nContent-Type: application/problem+json\r\nContent-Length: ${problem.length}\r\n\r\n${problem}`);
      setTimeout(() => {
        socket.on('data', (c: Buffer) => kept.push(c));
        socket.on('close', () => gotAll(Buffer.concat(kept)));
        setTimeout(() => gotAll(Buffer.concat(kept)), 3000);
        socket.resume();
      }, 300);
    });
  });
  early.listen(0, '127.0.0.1');
  await once(early, 'listening');
  const t = new BlockTransport({ baseUrl: `http://127.0.0.1:${(early.address() as net.AddressInfo).port}`, sessionId: 'session-1', key: sessionKey, connections: 1, timeoutMs: 5000, stream: false });
  const parts = [Buffer.from(marker)];
  const answer = await t.send('POST', '/v1/block-sessions/session-1/blocks/encrypt?lba=0', parts, [Buffer.alloc(marker.length)]);
  assert.equal((answer as { status: number }).status, 410);
  assert.ok(parts[0]!.equals(marker), 'the caller has its plaintext back');
  const wire = await all;
  t.destroy();
  assert.equal(wire.indexOf('SECTOR-PLAINTEXT'), -1, `no plaintext on the wire (${wire.length} bytes received)`);
  early.close();
});
