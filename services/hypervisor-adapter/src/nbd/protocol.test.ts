// The server against a raw client that follows (or breaks) the spec on purpose: the fixed newstyle
// handshake and its options, every transmission command with its error replies, and breaches that
// close one connection while the server goes on serving others.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { flipByte, recordingLogger, serveTestVolumes } from '../test-kit.fixture.js';
import { NBD_CMD, NBD_CMD_FLAG, NBD_ERROR, NBD_FLAG, NBD_FLAG_C, NBD_FLAG_HANDSHAKE, NBD_INFO, NBD_OPT, NBD_REP } from './nbd-constants.js';
import { RawNbdClient, infoRequest, optionHeader } from './raw-nbd-client.fixture.js';

const SIZE = 4 << 20;
const S = 4096;
/** An export larger than the 32 MiB request maximum (sparse: only what is written takes room). */
const BIG = 96 << 20;

describe('NBD server, raw client', () => {
  const log = recordingLogger();
  const served = serveTestVolumes(
    'protocol',
    { disk: { size: SIZE, sectorSize: S }, ro: { size: 1 << 20, sectorSize: 512, readOnly: true }, big: { size: BIG, sectorSize: S } },
    log,
  );

  /** The server still completes a handshake and a read: whatever happened before hurt no one else. */
  async function serverStillServes(): Promise<void> {
    const { client } = await RawNbdClient.open(served.port, 'disk');
    assert.equal((await client.request(NBD_CMD.READ, 0, 512)).error, 0);
    await client.disconnect();
  }

  test('greets with NBDMAGIC, IHAVEOPT and FIXED_NEWSTYLE | NO_ZEROES', async () => {
    const client = await RawNbdClient.connect(served.port);
    assert.equal(client.handshakeFlags, NBD_FLAG_HANDSHAKE.FIXED_NEWSTYLE | NBD_FLAG_HANDSHAKE.NO_ZEROES);
    client.destroy();
  });

  test('NBD_OPT_LIST, NBD_OPT_INFO (export, block sizes), unknown export and options, then NBD_OPT_GO', async () => {
    const client = await RawNbdClient.connect(served.port);
    client.sendClientFlags(NBD_FLAG_C.FIXED_NEWSTYLE | NBD_FLAG_C.NO_ZEROES);
    const list = await client.option(NBD_OPT.LIST);
    const names = list.filter((r) => r.type === NBD_REP.SERVER).map((r) => r.data.toString('utf8', 4, 4 + r.data.readUInt32BE(0)));
    assert.deepEqual(names.sort(), ['big', 'disk', 'ro']);
    assert.equal(list.at(-1)!.type, NBD_REP.ACK);
    assert.equal((await client.option(NBD_OPT.LIST, Buffer.from([1])))[0]!.type, NBD_REP.ERR_INVALID);

    const info = await client.option(NBD_OPT.INFO, infoRequest('disk', [NBD_INFO.BLOCK_SIZE, NBD_INFO.NAME]));
    assert.equal(info.at(-1)!.type, NBD_REP.ACK);
    const byType = new Map(info.filter((r) => r.type === NBD_REP.INFO).map((r) => [r.data.readUInt16BE(0), r.data]));
    const exportInfo = byType.get(NBD_INFO.EXPORT)!;
    assert.equal(exportInfo.length, 12);
    assert.equal(exportInfo.readBigUInt64BE(2), BigInt(SIZE));
    const wanted = NBD_FLAG.HAS_FLAGS | NBD_FLAG.SEND_FLUSH | NBD_FLAG.SEND_FUA | NBD_FLAG.SEND_TRIM | NBD_FLAG.SEND_WRITE_ZEROES;
    assert.equal(exportInfo.readUInt16BE(10) & wanted, wanted);
    assert.equal(exportInfo.readUInt16BE(10) & NBD_FLAG.READ_ONLY, 0);
    const blockSize = byType.get(NBD_INFO.BLOCK_SIZE)!;
    assert.deepEqual([blockSize.readUInt32BE(2), blockSize.readUInt32BE(6), blockSize.readUInt32BE(10)], [1, S, 1 << 25]);
    assert.equal(byType.get(NBD_INFO.NAME)!.toString('utf8', 2), 'disk');

    const unknown = await client.option(NBD_OPT.GO, infoRequest('no-such-export'));
    assert.deepEqual(unknown.map((r) => r.type), [NBD_REP.ERR_UNKNOWN]);
    for (const option of [NBD_OPT.STARTTLS, NBD_OPT.PEEK_EXPORT, 4242]) {
      assert.equal((await client.option(option, Buffer.from('x')))[0]!.type, NBD_REP.ERR_UNSUP, `option ${option}`);
    }
    const malformed = Buffer.alloc(10);
    malformed.writeUInt32BE(1000, 0); // a name longer than the data
    assert.equal((await client.option(NBD_OPT.GO, malformed))[0]!.type, NBD_REP.ERR_INVALID);

    const go = await client.option(NBD_OPT.GO, infoRequest('ro'));
    assert.equal(go.at(-1)!.type, NBD_REP.ACK);
    const roFlags = go.find((r) => r.data.length === 12 && r.data.readUInt16BE(0) === NBD_INFO.EXPORT)!.data.readUInt16BE(10);
    assert.ok(roFlags & NBD_FLAG.READ_ONLY);
    assert.equal((await client.request(NBD_CMD.READ, 0, 512)).error, 0);
    await client.disconnect();
  });

  test('NBD_OPT_EXPORT_NAME: size, flags and 124 zeroes unless NO_ZEROES; an unknown name ends the session', async () => {
    for (const [clientFlags, trailing] of [[NBD_FLAG_C.FIXED_NEWSTYLE, 124], [NBD_FLAG_C.FIXED_NEWSTYLE | NBD_FLAG_C.NO_ZEROES, 0], [0, 124]] as const) {
      const client = await RawNbdClient.connect(served.port);
      client.sendClientFlags(clientFlags);
      client.socket.write(Buffer.concat([optionHeader(NBD_OPT.EXPORT_NAME, 4), Buffer.from('disk')]));
      const answer = await client.reader.read(10 + trailing);
      assert.equal(answer.readBigUInt64BE(0), BigInt(SIZE));
      assert.ok(answer.readUInt16BE(8) & NBD_FLAG.HAS_FLAGS);
      assert.ok(answer.subarray(10).every((b) => b === 0));
      const read = await client.request(NBD_CMD.READ, 0, 100);
      assert.equal(read.error, 0);
      await client.disconnect();
    }
    const client = await RawNbdClient.connect(served.port);
    client.sendClientFlags(NBD_FLAG_C.FIXED_NEWSTYLE);
    client.socket.write(Buffer.concat([optionHeader(NBD_OPT.EXPORT_NAME, 4), Buffer.from('nope')]));
    await client.closed();
    await serverStillServes();
  });

  test('NBD_OPT_ABORT is acknowledged and the connection closed', async () => {
    const client = await RawNbdClient.connect(served.port);
    client.sendClientFlags(NBD_FLAG_C.FIXED_NEWSTYLE);
    assert.deepEqual((await client.option(NBD_OPT.ABORT)).map((r) => r.type), [NBD_REP.ACK]);
    await client.closed();
  });

  test('handshake breaches close that connection only', async () => {
    const breaches: Array<[string, (c: RawNbdClient) => void]> = [
      ['unknown client flags', (c) => c.sendClientFlags(0x80)],
      ['an option without IHAVEOPT', (c) => (c.sendClientFlags(NBD_FLAG_C.FIXED_NEWSTYLE), c.socket.write(Buffer.alloc(16, 0x41)))],
      ['an option of 1 GiB', (c) => (c.sendClientFlags(NBD_FLAG_C.FIXED_NEWSTYLE), c.socket.write(optionHeader(NBD_OPT.GO, 0x40000000)))],
      ['NBD_OPT_LIST without fixed newstyle', (c) => (c.sendClientFlags(0), c.socket.write(optionHeader(NBD_OPT.LIST, 0)))],
      ['random bytes', (c) => c.socket.write(randomBytes(300))],
      ['a hang-up mid-option', (c) => (c.sendClientFlags(NBD_FLAG_C.FIXED_NEWSTYLE), c.socket.end(Buffer.from('IHAVEOPT\0\0', 'latin1')))],
    ];
    for (const [what, breach] of breaches) {
      const client = await RawNbdClient.connect(served.port);
      breach(client);
      await client.closed();
      await serverStillServes().catch((e: unknown) => assert.fail(`after ${what}: ${String(e)}`));
    }
  });

  test('requests are checked: range, size, flags, command, read-only; each refusal leaves the connection usable', async () => {
    const { client } = await RawNbdClient.open(served.port, 'disk');
    const cases: Array<[string, Promise<{ error: number }>, number]> = [
      ['read past the end', client.request(NBD_CMD.READ, SIZE - 100, 101), NBD_ERROR.EINVAL],
      ['read at offset 2^64-1', client.request(NBD_CMD.READ, (1n << 64n) - 1n, 1), NBD_ERROR.EINVAL],
      ['write past the end', client.request(NBD_CMD.WRITE, SIZE, 1, { data: Buffer.alloc(1) }), NBD_ERROR.ENOSPC],
      ['write-zeroes past the end', client.request(NBD_CMD.WRITE_ZEROES, SIZE - 1, 2), NBD_ERROR.ENOSPC],
      ['trim past the end', client.request(NBD_CMD.TRIM, SIZE - 1, 2), NBD_ERROR.EINVAL],
      ['read longer than 32 MiB', client.request(NBD_CMD.READ, 0, (1 << 25) + 1), NBD_ERROR.EINVAL],
      ['write longer than 32 MiB', client.request(NBD_CMD.WRITE, 0, (1 << 25) + 512, { data: Buffer.alloc((1 << 25) + 512) }), NBD_ERROR.EINVAL],
      ['read with DF (not negotiated)', client.request(NBD_CMD.READ, 0, 512, { flags: NBD_CMD_FLAG.DF }), NBD_ERROR.EINVAL],
      ['write-zeroes with REQ_ONE', client.request(NBD_CMD.WRITE_ZEROES, 0, 512, { flags: NBD_CMD_FLAG.REQ_ONE }), NBD_ERROR.EINVAL],
      ['write-zeroes longer than 32 MiB, not fast', client.request(NBD_CMD.WRITE_ZEROES, 0, (1 << 25) + 4096), NBD_ERROR.EINVAL],
      ['flush with a length', client.request(NBD_CMD.FLUSH, 0, 512), NBD_ERROR.EINVAL],
      ['NBD_CMD_CACHE', client.request(NBD_CMD.CACHE, 0, 512), NBD_ERROR.EINVAL],
      ['NBD_CMD_BLOCK_STATUS', client.request(NBD_CMD.BLOCK_STATUS, 0, 512), NBD_ERROR.EINVAL],
      ['command 99', client.request(99, 0, 0), NBD_ERROR.EINVAL],
      ['a good read', client.request(NBD_CMD.READ, 0, 512), 0],
    ];
    for (const [what, reply, error] of cases) assert.equal((await reply).error, error, what);
    await client.disconnect();

    const readOnly = (await RawNbdClient.open(served.port, 'ro')).client;
    for (const [type, data] of [[NBD_CMD.WRITE, Buffer.alloc(512)], [NBD_CMD.TRIM, undefined], [NBD_CMD.WRITE_ZEROES, undefined]] as const) {
      assert.equal((await readOnly.request(type, 0, 512, data ? { data } : {})).error, NBD_ERROR.EPERM);
    }
    assert.equal((await readOnly.request(NBD_CMD.FLUSH, 0, 0)).error, 0);
    await readOnly.disconnect();
  });

  test('writes, FUA, flush, write-zeroes and trim, many in flight, read back', async () => {
    const { client } = await RawNbdClient.open(served.port, 'disk');
    const data = randomBytes(256 << 10);
    const replies = [
      client.request(NBD_CMD.WRITE, 8192, data.length, { data }),
      client.request(NBD_CMD.WRITE, 1000, 3000, { data: Buffer.alloc(3000, 0xcd), flags: NBD_CMD_FLAG.FUA }),
      client.request(NBD_CMD.WRITE_ZEROES, 8192 + 5000, 10_000, { flags: NBD_CMD_FLAG.NO_HOLE }),
      client.request(NBD_CMD.TRIM, 8192 + 65536, 8192, { flags: NBD_CMD_FLAG.FUA }),
      client.request(NBD_CMD.FLUSH, 0, 0),
      client.request(NBD_CMD.WRITE, 0, 0, { data: Buffer.alloc(0) }),
    ];
    assert.deepEqual((await Promise.all(replies)).map((r) => r.error), [0, 0, 0, 0, 0, 0]);
    const expected = Buffer.from(data);
    expected.fill(0, 5000, 15_000);
    expected.fill(0, 65536, 65536 + 8192);
    assert.deepEqual((await client.request(NBD_CMD.READ, 8192, data.length)).data, expected);
    const head = (await client.request(NBD_CMD.READ, 0, 4096)).data!;
    assert.ok(head.subarray(1000, 4000).every((b) => b === 0xcd));
    assert.equal((await client.request(NBD_CMD.READ, 0, 0)).error, 0);
    await client.disconnect();
  });

  test('a trim, or a fast zero, may span more than the 32 MiB maximum: the whole range reads as zeros', async () => {
    const { client, flags } = await RawNbdClient.open(served.port, 'big');
    assert.ok(flags & NBD_FLAG.SEND_FAST_ZERO, 'FAST_ZERO is advertised');
    const marks = [0, 40 << 20, BIG - S];
    const fill = async () => {
      for (const at of marks) assert.equal((await client.request(NBD_CMD.WRITE, at, S, { data: Buffer.alloc(S, 0x7e) })).error, 0);
    };
    for (const [what, type, rangeFlags] of [['trim', NBD_CMD.TRIM, 0], ['fast zero', NBD_CMD.WRITE_ZEROES, NBD_CMD_FLAG.FAST_ZERO]] as const) {
      await fill();
      assert.equal((await client.request(type, 0, BIG, { flags: rangeFlags })).error, 0, what);
      for (const at of marks) assert.deepEqual((await client.request(NBD_CMD.READ, at, S)).data, Buffer.alloc(S), `${what}: ${at}`);
    }
    await client.disconnect();
  });

  test('a fast zero of whole sectors is done at once; of a partial sector refused with ENOTSUP, the sector left as it was', async () => {
    const { client } = await RawNbdClient.open(served.port, 'disk');
    const data = randomBytes(4 * S);
    assert.equal((await client.request(NBD_CMD.WRITE, 700 * S, data.length, { data })).error, 0);
    for (const [offset, length] of [[700 * S + 1, S], [700 * S, S + 100], [700 * S + 10, 20]] as const) {
      const refused = await client.request(NBD_CMD.WRITE_ZEROES, offset, length, { flags: NBD_CMD_FLAG.FAST_ZERO });
      assert.equal(refused.error, NBD_ERROR.ENOTSUP, `${offset}+${length}`);
    }
    assert.deepEqual((await client.request(NBD_CMD.READ, 700 * S, data.length)).data, data, 'nothing zeroed by a refused fast zero');
    assert.equal((await client.request(NBD_CMD.WRITE_ZEROES, 701 * S, 2 * S, { flags: NBD_CMD_FLAG.FAST_ZERO | NBD_CMD_FLAG.NO_HOLE })).error, 0);
    assert.equal((await client.request(NBD_CMD.WRITE_ZEROES, 700 * S + 1, S, {})).error, 0, 'without FAST_ZERO a partial sector is zeroed (read-modify-write)');
    const expected = Buffer.from(data);
    expected.fill(0, 1, 3 * S);
    assert.deepEqual((await client.request(NBD_CMD.READ, 700 * S, data.length)).data, expected);
    await client.disconnect();
  });

  test('a tampered sector: EIO for reads that touch it, the LBA logged, every other sector still read', async () => {
    const { client } = await RawNbdClient.open(served.port, 'disk');
    const data = randomBytes(16 * S);
    assert.equal((await client.request(NBD_CMD.WRITE, 512 * S, data.length, { data })).error, 0);
    assert.equal((await client.request(NBD_CMD.FLUSH, 0, 0)).error, 0);
    await served.volumes.disk!.checkpoint(); // from the journal into the data file, where the damage is done
    flipByte(path.join(served.dir, 'disk', 'data'), 519 * S + 99, 0x01);
    assert.equal((await client.request(NBD_CMD.READ, 519 * S + 4000, 10)).error, NBD_ERROR.EIO);
    assert.equal((await client.request(NBD_CMD.READ, 512 * S, 16 * S)).error, NBD_ERROR.EIO);
    assert.deepEqual((await client.request(NBD_CMD.READ, 512 * S, 7 * S)).data, data.subarray(0, 7 * S));
    assert.deepEqual((await client.request(NBD_CMD.READ, 520 * S, 8 * S)).data, data.subarray(8 * S));
    const logged = log.entries.find((e) => e.level === 'warn' && e.message.includes('integrity'));
    assert.deepEqual(logged?.fields.lbas, [519n]);
    assert.equal(logged?.fields.export, 'disk');
    await client.disconnect();
  });

  test('a request without NBD_REQUEST_MAGIC closes that connection only', async () => {
    const { client } = await RawNbdClient.open(served.port, 'disk');
    client.socket.write(Buffer.alloc(28, 0x55));
    await client.closed();
    await serverStillServes();
    assert.ok(log.entries.some((e) => e.level === 'warn' && e.message.startsWith('protocol breach')));
  });
});
