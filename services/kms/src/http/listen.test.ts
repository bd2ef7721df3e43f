// The listener's time limits, with the limits shortened: a head or a body that trickles in past
// them loses its connection (408), and a large body's share of the body budget comes back; a
// request that arrives in time is served as ever.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { z } from 'zod';
import { mountListener, type Principal } from './mount.js';
import { route } from './route.js';
import { binaryBodies, binaryBodyBytes } from './binary-body.js';
import { requestTimeouts, serverFor } from './listen.js';
import { eventually } from '../test-kit.fixture.js';

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

/** The limits under test, shortened; and the limits of a patient listener, for tests whose requests must not run into them (a loaded machine). */
const SHORT = { headMs: 400, wholeMs: 800, checkEveryMs: 50 };
const PATIENT = { headMs: 10_000, wholeMs: 20_000, checkEveryMs: 50 };
/** How long the server may take past a limit to close the connection: a deadline for a loaded machine, far short of Node's own limits (60 s for the head, 300 s in all). */
const CLOSE_WITHIN_MS = 10_000;

type Server = ReturnType<typeof serverFor>;
const servers: Server[] = [];
let port: number;
let patient: Server;
let patientPort: number;

/** A listener for the echo route, with `limits` (serverFor reads requestTimeouts as it makes the server). */
async function listenWith(limits: typeof requestTimeouts): Promise<number> {
  const defaults = { ...requestTimeouts };
  Object.assign(requestTimeouts, limits);
  try {
    const server = serverFor(mountListener({ planes: ['data'], routes: [echo], authenticate: async () => hv, onInternalError: (e) => assert.fail(String(e)) })).listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    return (server.address() as net.AddressInfo).port;
  } finally {
    Object.assign(requestTimeouts, defaults);
  }
}

before(async () => {
  port = await listenWith(SHORT);
  patientPort = await listenWith(PATIENT);
  patient = servers[1]!;
});
after(() => {
  for (const server of servers) server.close();
});

/**
 * Connects, sends `bytes`, then nothing more; what the server sent, and how long until it closed
 * the connection — timed from before connecting, so never from later than the server's own clock
 * starts (at the connection): the time is at least the server's.
 */
function stall(bytes: string | Buffer): { closed: Promise<{ answer: string; ms: number }>; isClosed: () => boolean } {
  const started = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  let answer = '';
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  socket.on('connect', () => socket.write(bytes));
  const closed = once(socket, 'close').then(() => {
    isClosed = true;
    return { answer, ms: performance.now() - started };
  });
  return { closed, isClosed: () => isClosed };
}

test('a head that does not arrive in time loses its connection with 408', async () => {
  const { answer, ms } = await stall('POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: applicat').closed;
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.ok(ms >= SHORT.headMs && ms < SHORT.headMs + CLOSE_WITHIN_MS, `closed after ${ms.toFixed(0)} ms`);
});

test('a body that does not arrive in time loses its connection, and its bytes come back to the budget', async () => {
  const head = 'POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 524288\r\n\r\n';
  const { closed, isClosed } = stall(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(100_000, 7)]));
  await eventually(() => binaryBodyBytes.used >= 524288 || isClosed(), () => `the body never took its place in the budget (${binaryBodyBytes.used})`);
  assert.ok(binaryBodyBytes.used >= 524288, `the body holds its place in the budget until the connection is lost (${binaryBodyBytes.used})`);
  const { ms } = await closed;
  assert.ok(ms >= SHORT.wholeMs && ms < SHORT.wholeMs + CLOSE_WITHIN_MS, `closed after ${ms.toFixed(0)} ms`);
  await eventually(() => binaryBodyBytes.used === 0, () => `the budget has its bytes back (${binaryBodyBytes.used} held)`);
});

test('a client that hangs up in the middle of a body gives its bytes back, once', async () => {
  const socket = net.connect(patientPort, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 524288\r\n\r\n');
  socket.write(Buffer.alloc(100_000, 9));
  await eventually(() => binaryBodyBytes.used >= 524288, () => `held while it is read (${binaryBodyBytes.used})`);
  socket.destroy();
  await eventually(() => binaryBodyBytes.used === 0, () => `given back (${binaryBodyBytes.used} held)`);
  // Once: the server's side of the connection has closed, and with it the response (both give back
  // what they hold when they close), and a second give would have taken the count below zero.
  let connections = -1;
  await eventually(
    () => {
      patient.getConnections((_, n) => (connections = n));
      return connections === 0;
    },
    () => `the server still holds ${connections} connections`,
  );
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(binaryBodyBytes.used, 0, 'given back once');
});

test('a request that arrives in time is served', async () => {
  const body = Buffer.alloc(300_000, 3);
  const socket = net.connect(patientPort, '127.0.0.1');
  await once(socket, 'connect');
  let answer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (answer = Buffer.concat([answer, chunk])));
  socket.write(`POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`);
  socket.write(body.subarray(0, 100_000));
  await new Promise((resolve) => setTimeout(resolve, 300)); // slow, but inside the (patient listener's) limits
  socket.write(body.subarray(100_000));
  await once(socket, 'close');
  assert.match(answer.toString('latin1', 0, 20), /^HTTP\/1\.1 200/);
  assert.ok(answer.subarray(answer.length - body.length).equals(body));
});
