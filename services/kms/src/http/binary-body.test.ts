// Binary bodies through a real listener: the bytes arrive whole (sized or chunked), in memory the
// pool lent with room after the body; too large is 413 before the rest is read, a content
// encoding is 415, a short body is a problem and never a handler call; and the pool reuses only
// memory given back to it, of its own sizes, up to its bound.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import net from 'node:net';
import request from 'supertest';
import { z } from 'zod';
import { mountListener, type Principal } from './mount.js';
import { PROBLEM_BASE } from './problems.js';
import { route } from './route.js';
import { BodyPool, binaryBodies, capacityFor } from './binary-body.js';

const seen: { length: number; lent: boolean; room: number }[] = [];
const echo = route({
  method: 'post',
  path: '/v1/echo',
  plane: 'data',
  permission: 'block.crypt',
  summary: 'answers its body reversed',
  body: z.custom<Buffer>((v) => Buffer.isBuffer(v)),
  bodyType: 'binary',
  maxBody: 256 * 1024,
  handler: ({ body, afterSend }) => {
    seen.push({ length: body.length, lent: binaryBodies.lent(body), room: body.buffer.byteLength - body.length });
    const answer = Buffer.from(body).reverse();
    afterSend(() => binaryBodies.give(body.buffer as ArrayBuffer));
    return answer;
  },
});
const hv: Principal = { id: 'hv-1', name: 'host-1', role: 'hypervisor', tenantId: null };
const app = mountListener({ planes: ['data'], routes: [echo], authenticate: async () => hv, onInternalError: (e) => assert.fail(String(e)) });

const octets = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

describe('binary bodies', () => {
  test('a sized body arrives whole, in lent memory with a sixteenth of room, and is answered', async () => {
    const body = octets(200_000);
    const res = await request(app).post('/v1/echo').set('content-type', 'application/octet-stream').send(body);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, Buffer.from(body).reverse());
    const last = seen.at(-1)!;
    assert.equal(last.length, body.length);
    assert.equal(last.lent, true);
    assert.ok(last.room >= body.length / 16, `room ${last.room}`);
  });

  test('a chunked body (no Content-Length) arrives whole', async () => {
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as net.AddressInfo;
      const body = octets(150_000);
      const answer = await new Promise<Buffer>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/echo', headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`status ${res.statusCode}`))));
        });
        req.on('error', reject);
        for (let at = 0; at < body.length; at += 40_000) req.write(body.subarray(at, at + 40_000));
        req.end();
      });
      assert.deepEqual(answer, Buffer.from(body).reverse());
    } finally {
      server.close();
    }
  });

  test('a body over the route’s limit is 413, sized or chunked', async () => {
    const before = seen.length;
    const res = await request(app).post('/v1/echo').set('content-type', 'application/octet-stream').send(octets(256 * 1024 + 1));
    assert.equal(res.status, 413);
    assert.equal(res.body.type, `${PROBLEM_BASE}payload-too-large`);
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as net.AddressInfo;
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/echo', headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on('error', () => resolve(-1)); // the server may close before the rest is sent
        for (let i = 0; i < 6; i++) req.write(octets(64 * 1024));
        req.end();
        setTimeout(() => reject(new Error('no answer')), 5000).unref();
      });
      assert.ok(status === 413 || status === -1, `status ${status}`);
    } finally {
      server.close();
    }
    assert.equal(seen.length, before, 'the handler never ran');
  });

  test('a content encoding is refused (415): the bytes are not inflated behind the proof', async () => {
    const res = await request(app).post('/v1/echo').set('content-type', 'application/octet-stream').set('content-encoding', 'gzip').send(octets(100));
    assert.equal(res.status, 415);
    assert.equal(res.body.type, `${PROBLEM_BASE}unsupported-media-type`);
  });

  test('a body cut short of its Content-Length never reaches the handler', async () => {
    const before = seen.length;
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as net.AddressInfo;
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('POST /v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 1000\r\n\r\n');
      socket.write(octets(500));
      await new Promise((r) => setTimeout(r, 100));
      socket.destroy();
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      server.close();
    }
    assert.equal(seen.length, before);
  });
});

describe('the body pool', () => {
  test('lends capacity with room in size classes, reuses what is given back, and nothing else', () => {
    const pool = new BodyPool();
    assert.equal(capacityFor(0), 64 * 1024);
    assert.equal(capacityFor(100_000), 128 * 1024, 'multiples of 64 KiB up to 256 KiB');
    assert.equal(capacityFor(256 * 1024), 320 * 1024);
    assert.equal(capacityFor(1 << 20), 1.25 * (1 << 20), 'then four classes per octave');
    assert.equal(capacityFor(4 << 20), 5 << 20);
    assert.equal(capacityFor((4 << 20) + 8192 * 32), 5 << 20, 'a 4 MiB batch and its tags share a class with the batch alone');
    for (let length = 1; length < 64 << 20; length = Math.ceil(length * 1.37)) {
      const capacity = capacityFor(length);
      assert.ok(capacity >= length + length / 16, `room for ${length}`);
      assert.ok(capacity <= Math.max(64 * 1024, 1.25 * (length + Math.ceil(length / 16)) + 64 * 1024), `slack for ${length}: ${capacity}`);
    }
    const a = pool.take(1 << 20);
    assert.equal(a.length, 1 << 20);
    assert.ok(pool.lent(a));
    assert.ok(!pool.lent(a.subarray(1)), 'a view that does not start the memory is not the body');
    assert.ok(!pool.lent(Buffer.alloc(1 << 20)), 'memory the pool did not lend');
    const memory = a.buffer as ArrayBuffer;
    pool.give(memory);
    assert.equal(pool.keptBytes, memory.byteLength);
    const b = pool.take((1 << 20) + 1000);
    assert.ok(b.buffer === memory, 'a nearby length of the same class takes the memory back');
    assert.equal(pool.keptBytes, 0);
    pool.give(new ArrayBuffer(1000));
    pool.give(new ArrayBuffer(1.25 * (1 << 20) + 64 * 1024));
    assert.equal(pool.keptBytes, 0, 'sizes the pool does not lend are left to the collector');
  });

  test('keeps at most 64 MiB between requests', () => {
    const pool = new BodyPool();
    const lent = Array.from({ length: 80 }, () => pool.take(1 << 20));
    for (const b of lent) pool.give(b.buffer as ArrayBuffer);
    assert.ok(pool.keptBytes <= 64 * 1024 * 1024, `${pool.keptBytes}`);
    assert.ok(pool.keptBytes > 60 * 1024 * 1024);
  });

  test('makes room for the class in use by letting go of the one given to least recently', () => {
    const pool = new BodyPool();
    const old = Array.from({ length: 50 }, () => pool.take(1 << 20));
    for (const b of old) pool.give(b.buffer as ArrayBuffer);
    const kept = pool.keptBytes;
    assert.equal(kept, 50 * 1.25 * (1 << 20));
    const fresh = Array.from({ length: 8 }, () => pool.take(4 << 20));
    for (const b of fresh) pool.give(b.buffer as ArrayBuffer);
    assert.ok(pool.keptBytes <= 64 * 1024 * 1024, `${pool.keptBytes}`);
    const again = fresh.map(() => pool.take(4 << 20));
    assert.ok(again.every((b, i) => b.buffer === fresh[fresh.length - 1 - i]!.buffer), 'every 4 MiB body was kept; older 1 MiB memory made way');
    const left = pool.keptBytes;
    assert.ok(left > 0 && left <= (64 << 20) - 8 * (5 << 20) && left % (1.25 * (1 << 20)) === 0, `1 MiB memory left: ${left}`);
  });
});
