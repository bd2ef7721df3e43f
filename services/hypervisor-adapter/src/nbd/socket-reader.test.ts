// The socket reader on real loopback sockets: exact reads whatever the chunking, large reads in
// memory of their own, TCP holding back a client nobody reads from, and the end of a connection
// seen by a pending read and by a server closing.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ConnectionClosed, SocketReader } from './socket-reader.js';

/** A server whose accepted connections are read by SocketReader, and a client connected to it. */
async function pair(t: TestContext): Promise<{ server: Server; reader: SocketReader; client: Socket }> {
  const accepted: SocketReader[] = [];
  const server = createServer({ pauseOnConnect: true }, (socket) => accepted.push(SocketReader.forAccepted(socket)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.setNoDelay(true);
  await once(server, 'connection');
  await once(client, 'connect');
  t.after(async () => {
    client.destroy();
    accepted[0]!.socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { server, reader: accepted[0]!, client };
}

const sent = (client: Socket, data: Buffer) => new Promise<void>((resolve) => client.write(data, () => resolve()));

test('exact reads across any chunking: headers copied out, payloads whole, in order', async (t) => {
  const { reader, client } = await pair(t);
  const data = randomBytes(3 << 20);
  // Writes of awkward sizes, some with nobody reading, so reads span staging and direct memory alike.
  const pieces = [28, 1, 70_000, 5, 262_144, 65_536 - 28, 3, 1 << 20];
  const writing = (async () => {
    let at = 0;
    for (const piece of [...pieces, data.length]) {
      const end = Math.min(data.length, at + piece);
      await sent(client, data.subarray(at, end));
      at = end;
      if (at === data.length) break;
    }
  })();
  const sizes = [28, 262_144, 16, 4096, 4095, 1 << 20, 100, 65_536, 28];
  const parts: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < data.length; i++) {
    const size = Math.min(sizes[i % sizes.length]!, data.length - total);
    const part = await reader.read(size);
    assert.equal(part.length, size);
    parts.push(Buffer.from(part));
    total += size;
  }
  await writing;
  assert.ok(Buffer.concat(parts).equals(data));
});

test('a large read is one buffer of its own; a small one a copy the next reads do not touch', async (t) => {
  const { reader, client } = await pair(t);
  const head = randomBytes(28);
  const payload = randomBytes(256 << 10);
  const tail = randomBytes(28); // other bytes than head's: a view of reused memory would show them
  await sent(client, Buffer.concat([head, payload, tail]));
  const first = await reader.read(28);
  const body = await reader.read(payload.length);
  const last = await reader.read(28);
  assert.ok(first.equals(head) && last.equals(tail));
  assert.ok(body.equals(payload));
  assert.ok(body.buffer.byteLength >= payload.length && body.byteOffset === 0, 'the payload is not a view into shared chunks');
});

test('nobody reading: the socket stops after a little, TCP holds the client back, and nothing is lost', async (t) => {
  const { reader, client } = await pair(t);
  const data = randomBytes(16 << 20);
  let flushed = false;
  client.write(data, () => (flushed = true));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(flushed, false, 'the client could hand over all 16 MiB: nothing held it back');
  assert.ok(reader.socket.bytesRead <= 64 << 10, `the reader took ${reader.socket.bytesRead} bytes with no read waiting`);
  const back = await reader.read(data.length);
  assert.ok(back.equals(data));
});

test('after it stopped, a read served from what was queued starts the socket again: the end still arrives', async (t) => {
  const { reader, client } = await pair(t);
  const data = randomBytes(48 << 10); // more than half the staging buffer: the socket stops with it queued
  await sent(client, data);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok((await reader.read(data.length)).equals(data));
  client.end();
  // No read waits now: only a socket reading again sees the client's end.
  const ended = once(reader.socket, 'end').then(() => true);
  const late = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref()); // (a deadline for a loaded machine: the end normally comes at once)
  assert.equal(await Promise.race([ended, late]), true, 'the end of the connection never arrived');
});

test('the peer going away rejects the pending read with ConnectionClosed, large or small', async (t) => {
  const { reader, client } = await pair(t);
  await sent(client, randomBytes(1000));
  const large = reader.read(1 << 20);
  client.destroy();
  await assert.rejects(large, ConnectionClosed);
  await assert.rejects(reader.read(4), ConnectionClosed);
});

test('the server closes once a connection read this way has closed', async () => {
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const reader = SocketReader.forAccepted(socket);
    void reader.read(5).then((hello) => reader.socket.end(hello));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.write('hello');
  const [echo] = (await once(client, 'data')) as [Buffer];
  assert.equal(echo.toString(), 'hello');
  await once(client, 'close');
  await new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve(null))));
});

test('the accepted socket left behind neither closes the connection nor counts it closed', async () => {
  let reader!: SocketReader;
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    reader = SocketReader.forAccepted(socket);
    socket.destroy(); // a mistake somewhere: it must not touch the handle or the server's count
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(server, 'connection');
  let closed = false;
  server.close(() => (closed = true));
  client.write('still here');
  assert.equal((await reader.read(10)).toString(), 'still here');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(closed, false, 'the server closed with a connection open');
  client.destroy();
  await once(server, 'close');
});

test('forAccepted refuses a socket that may already have read', async () => {
  const server = createServer((socket) => {
    assert.throws(() => SocketReader.forAccepted(socket), /pauseOnConnect/);
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  await once(client, 'close');
  await new Promise((resolve) => server.close(resolve));
});
