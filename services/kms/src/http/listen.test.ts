// The listener's time limits, with the limits shortened: a head or a body that trickles in past
// them loses its connection (408), and a large body's share of the body budget comes back; a
// request that arrives in time is served as ever.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import type { Server } from 'node:http';
import { z } from 'zod';
import { mountListener, type Principal } from './mount.js';
import { route } from './route.js';
import { binaryBodies, binaryBodyBytes } from './binary-body.js';
import { requestTimeouts, serverFor } from './listen.js';

const echo = route({
  method: 'post',
  path: '/v1/echo',
  plane: 'data',
  permission: 'block.crypt',
  summary: 'answers its body',
  body: z.custom<Buffer>((v) => Buffer.isBuffer(v)),
  bodyType: 'binary',
  maxBody: 1 << 20,
  handler: ({ body, afterSend }) => {
    afterSend(() => binaryBodies.give(body.buffer as ArrayBuffer));
    return Buffer.from(body);
  },
});
const hv: Principal = { id: 'hv-1', name: 'host-1', role: 'hypervisor', tenantId: null };

let server: Server;
let port: number;

before(async () => {
  Object.assign(requestTimeouts, { headMs: 400, wholeMs: 800, checkEveryMs: 50 });
  server = serverFor(mountListener({ planes: ['data'], routes: [echo], authenticate: async () => hv, onInternalError: (e) => assert.fail(String(e)) })).listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});
after(() => server.close());

/** Connects, sends `bytes`, then nothing more; what the server sent, and how long until it closed the connection. */
async function stall(bytes: string | Buffer): Promise<{ answer: string; ms: number }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const started = Date.now();
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  socket.write(bytes);
  await once(socket, 'close');
  return { answer, ms: Date.now() - started };
}

test('a head that does not arrive in time loses its connection with 408', async () => {
  const { answer, ms } = await stall('POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: applicat');
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.ok(ms >= 350 && ms < 3_000, `closed after ${ms} ms`);
});

test('a body that does not arrive in time loses its connection, and its bytes come back to the budget', async () => {
  const head = 'POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 524288\r\n\r\n';
  const closed = stall(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(100_000, 7)]));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(binaryBodyBytes.used >= 524288, `the body holds its place in the budget (${binaryBodyBytes.used})`);
  const { ms } = await closed;
  assert.ok(ms >= 750 && ms < 3_000, `closed after ${ms} ms`);
  assert.equal(binaryBodyBytes.used, 0, 'the budget has its bytes back');
});

test('a client that hangs up in the middle of a body gives its bytes back, once', async () => {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 524288\r\n\r\n');
  socket.write(Buffer.alloc(100_000, 9));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(binaryBodyBytes.used >= 524288, `held while it is read (${binaryBodyBytes.used})`);
  socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(binaryBodyBytes.used, 0);
});

test('a request that arrives in time is served', async () => {
  const body = Buffer.alloc(300_000, 3);
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let answer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (answer = Buffer.concat([answer, chunk])));
  socket.write(`POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`);
  socket.write(body.subarray(0, 100_000));
  await new Promise((resolve) => setTimeout(resolve, 300)); // slow, but inside the limits
  socket.write(body.subarray(100_000));
  await once(socket, 'close');
  assert.match(answer.toString('latin1', 0, 20), /^HTTP\/1\.1 200/);
  assert.ok(answer.subarray(answer.length - body.length).equals(body));
});
