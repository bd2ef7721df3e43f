// Structured replies and base:allocation against the raw client: negotiating them (and every way
// of getting that wrong), reads in one OFFSET_DATA chunk, failures as ERROR chunks with a message,
// and NBD_CMD_BLOCK_STATUS over sectors written, never written, zeroed and trimmed, before and
// after they reach the files.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { flipByte, serveTestVolumes } from '../test-kit.fixture.js';
import { BASE_ALLOCATION, NBD_CMD, NBD_CMD_FLAG, NBD_ERROR, NBD_FLAG, NBD_FLAG_C, NBD_INFO, NBD_OPT, NBD_REP, NBD_REPLY_FLAG, NBD_REPLY_TYPE, NBD_STATE } from './nbd-constants.js';
import { RawNbdClient, infoRequest, metaContextRequest, type Reply } from './raw-nbd-client.fixture.js';

const SIZE = 4 << 20;
const S = 4096;
const HOLE_ZERO = NBD_STATE.HOLE | NBD_STATE.ZERO;

/** A block status reply, checked to be one final BLOCK_STATUS chunk: its context id and (length, flags) descriptors. */
function statusOf(reply: Reply): { context: number; extents: Array<[number, number]> } {
  assert.equal(reply.error, 0, reply.message);
  assert.deepEqual(reply.chunks?.map((c) => [c.type, c.flags]), [[NBD_REPLY_TYPE.BLOCK_STATUS, NBD_REPLY_FLAG.DONE]], 'one final chunk for the one context');
  return reply.status!;
}

describe('NBD server, structured replies and base:allocation', () => {
  const served = serveTestVolumes('structured', { disk: { size: SIZE, sectorSize: S }, other: { size: 64 << 20, sectorSize: 512 } });

  async function haggling(): Promise<RawNbdClient> {
    const client = await RawNbdClient.connect(served.port);
    client.sendClientFlags(NBD_FLAG_C.FIXED_NEWSTYLE | NBD_FLAG_C.NO_ZEROES);
    return client;
  }
  const types = (replies: Array<{ type: number }>) => replies.map((r) => r.type);
  const named = (replies: Array<{ type: number; data: Buffer }>) =>
    replies.filter((r) => r.type === NBD_REP.META_CONTEXT).map((r) => ({ id: r.data.readUInt32BE(0), name: r.data.toString('utf8', 4) }));

  test('negotiation: structured replies once and without data; contexts listed and selected only after them, per export', async () => {
    const client = await haggling();
    // Before structured replies: no metadata contexts, and no DF.
    assert.deepEqual(types(await client.option(NBD_OPT.LIST_META_CONTEXT, metaContextRequest('disk', []))), [NBD_REP.ERR_INVALID]);
    assert.deepEqual(types(await client.option(NBD_OPT.SET_META_CONTEXT, metaContextRequest('disk', [BASE_ALLOCATION]))), [NBD_REP.ERR_INVALID]);
    const before = await client.option(NBD_OPT.INFO, infoRequest('disk'));
    assert.equal(before.find((r) => r.type === NBD_REP.INFO && r.data.readUInt16BE(0) === NBD_INFO.EXPORT)!.data.readUInt16BE(10) & NBD_FLAG.SEND_DF, 0);

    assert.deepEqual(types(await client.option(NBD_OPT.STRUCTURED_REPLY, Buffer.from('x'))), [NBD_REP.ERR_INVALID]);
    assert.deepEqual(types(await client.option(NBD_OPT.STRUCTURED_REPLY)), [NBD_REP.ACK]);
    assert.deepEqual(types(await client.option(NBD_OPT.STRUCTURED_REPLY)), [NBD_REP.ERR_INVALID], 'negotiated already');

    // LIST: everything with no queries or "base:", nothing for other namespaces; the id is 0.
    for (const queries of [[], ['base:'], [BASE_ALLOCATION], ['qemu:dirty-bitmap:a', 'base:']]) {
      const listed = await client.option(NBD_OPT.LIST_META_CONTEXT, metaContextRequest('disk', queries));
      assert.deepEqual(named(listed), [{ id: 0, name: BASE_ALLOCATION }], JSON.stringify(queries));
      assert.equal(listed.at(-1)!.type, NBD_REP.ACK);
    }
    for (const queries of [['qemu:dirty-bitmap:a'], ['base:nothing'], ['x-sealkeep:']]) {
      assert.deepEqual(types(await client.option(NBD_OPT.LIST_META_CONTEXT, metaContextRequest('disk', queries))), [NBD_REP.ACK], JSON.stringify(queries));
    }
    // Malformed requests and unknown exports.
    assert.deepEqual(types(await client.option(NBD_OPT.SET_META_CONTEXT, metaContextRequest('nope', [BASE_ALLOCATION]))), [NBD_REP.ERR_UNKNOWN]);
    assert.deepEqual(types(await client.option(NBD_OPT.SET_META_CONTEXT, metaContextRequest('disk', ['allocation']))), [NBD_REP.ERR_INVALID]);
    assert.deepEqual(types(await client.option(NBD_OPT.LIST_META_CONTEXT, metaContextRequest('disk', [BASE_ALLOCATION]).subarray(0, 13))), [NBD_REP.ERR_INVALID]);
    // SET: only the exact name selects; "base:" and zero queries select nothing.
    assert.deepEqual(types(await client.option(NBD_OPT.SET_META_CONTEXT, metaContextRequest('disk', ['base:']))), [NBD_REP.ACK]);
    assert.deepEqual(types(await client.option(NBD_OPT.SET_META_CONTEXT, metaContextRequest('disk', []))), [NBD_REP.ACK]);
    const set = await client.option(NBD_OPT.SET_META_CONTEXT, metaContextRequest('disk', ['qemu:dirty-bitmap:a', BASE_ALLOCATION]));
    assert.deepEqual(types(set), [NBD_REP.META_CONTEXT, NBD_REP.ACK]);
    const id = named(set)[0]!.id;
    assert.notEqual(id, 0);

    const go = await client.option(NBD_OPT.GO, infoRequest('disk'));
    assert.equal(go.at(-1)!.type, NBD_REP.ACK);
    assert.ok(go.find((r) => r.type === NBD_REP.INFO && r.data.readUInt16BE(0) === NBD_INFO.EXPORT)!.data.readUInt16BE(10) & NBD_FLAG.SEND_DF, 'DF is advertised with structured replies');
    assert.equal(statusOf(await client.request(NBD_CMD.BLOCK_STATUS, 0, S)).context, id);
    await client.disconnect();
  });

  test('block status needs base:allocation set on the export that is then served', async () => {
    for (const setOn of [null, 'other'] as const) {
      const client = await haggling();
      assert.deepEqual(types(await client.option(NBD_OPT.STRUCTURED_REPLY)), [NBD_REP.ACK]);
      if (setOn) assert.equal((await client.option(NBD_OPT.SET_META_CONTEXT, metaContextRequest(setOn, [BASE_ALLOCATION]))).at(-1)!.type, NBD_REP.ACK);
      assert.equal((await client.option(NBD_OPT.GO, infoRequest('disk'))).at(-1)!.type, NBD_REP.ACK);
      const refused = await client.request(NBD_CMD.BLOCK_STATUS, 0, S);
      assert.equal(refused.error, NBD_ERROR.EINVAL);
      assert.match(refused.message!, /base:allocation/);
      assert.equal((await client.request(NBD_CMD.READ, 0, 512)).error, 0, 'the connection goes on');
      await client.disconnect();
    }
  });

  test('reads come in one OFFSET_DATA chunk at their offset; other commands succeed with simple replies', async () => {
    const { client } = await RawNbdClient.open(served.port, 'disk', { structured: true });
    const data = randomBytes(5 * S + 77);
    assert.equal((await client.request(NBD_CMD.WRITE, 3 * S + 11, data.length, { data })).error, 0);
    assert.equal((await client.request(NBD_CMD.FLUSH, 0, 0)).chunks, undefined, 'a flush gets a simple reply');
    for (const flags of [0, NBD_CMD_FLAG.DF]) {
      const read = await client.request(NBD_CMD.READ, 3 * S + 11, data.length, { flags });
      assert.equal(read.chunks?.length, 1);
      const [chunk] = read.chunks!;
      assert.deepEqual([chunk!.type, chunk!.flags], [NBD_REPLY_TYPE.OFFSET_DATA, NBD_REPLY_FLAG.DONE]);
      assert.equal(chunk!.payload.readBigUInt64BE(0), BigInt(3 * S + 11));
      assert.deepEqual(read.data, data);
    }
    await client.disconnect();
  });

  test('failures are ERROR chunks whose message says why: a tampered sector names its LBA, a range names the end', async () => {
    const { client } = await RawNbdClient.open(served.port, 'disk', { structured: true });
    const data = randomBytes(4 * S);
    assert.equal((await client.request(NBD_CMD.WRITE, 600 * S, data.length, { data })).error, 0);
    assert.equal((await client.request(NBD_CMD.FLUSH, 0, 0)).error, 0);
    await served.volumes.disk!.checkpoint();
    flipByte(path.join(served.dir, 'disk', 'data'), 602 * S + 5, 0x80);

    const tampered = await client.request(NBD_CMD.READ, 600 * S, 4 * S);
    assert.equal(tampered.error, NBD_ERROR.EIO);
    assert.equal(tampered.data, undefined, 'no byte of the failed read');
    assert.deepEqual(tampered.chunks!.map((c) => [c.type, c.flags]), [[NBD_REPLY_TYPE.ERROR, NBD_REPLY_FLAG.DONE]]);
    assert.match(tampered.message!, /LBA 602\b/);
    const past = await client.request(NBD_CMD.WRITE, SIZE - S, 2 * S, { data: randomBytes(2 * S) });
    assert.equal(past.error, NBD_ERROR.ENOSPC);
    assert.match(past.message!, /pass the end of the export/);
    const badFlags = await client.request(NBD_CMD.READ, 0, S, { flags: NBD_CMD_FLAG.REQ_ONE });
    assert.equal(badFlags.error, NBD_ERROR.EINVAL);
    assert.equal(badFlags.chunks?.[0]?.type, NBD_REPLY_TYPE.ERROR, 'a read is never answered with a simple reply');
    assert.deepEqual((await client.request(NBD_CMD.READ, 600 * S, 2 * S)).data, data.subarray(0, 2 * S), 'the connection goes on');
    await client.disconnect();
  });

  test('block status: data, never written, zeroed and trimmed sectors, from any offset, pending or in the files', async () => {
    const { client, contextIds } = await RawNbdClient.open(served.port, 'disk', { structured: true, contexts: [BASE_ALLOCATION] });
    const id = contextIds.get(BASE_ALLOCATION)!;
    const base = 800 * S;
    // Sectors 800–803 data, 804–807 never written, 808–811 zeroed, 812 data, 813–815 data then trimmed, 816– never written.
    const write = async (lba: number, sectors: number) => assert.equal((await client.request(NBD_CMD.WRITE, lba * S, sectors * S, { data: randomBytes(sectors * S) })).error, 0);
    await write(800, 4);
    assert.equal((await client.request(NBD_CMD.WRITE_ZEROES, 808 * S, 4 * S)).error, 0);
    await write(812, 4);
    assert.equal((await client.request(NBD_CMD.TRIM, 813 * S, 3 * S)).error, 0);
    const expected: Array<[number, number]> = [
      [4 * S, 0],
      [8 * S, HOLE_ZERO],
      [1 * S, 0],
      [3 * S + 4 * S, HOLE_ZERO],
    ];
    for (const where of ['pending', 'in the files']) {
      if (where === 'in the files') await served.volumes.disk!.checkpoint();
      const whole = statusOf(await client.request(NBD_CMD.BLOCK_STATUS, base, 20 * S));
      assert.equal(whole.context, id);
      assert.deepEqual(whole.extents, expected, where);
      // From the middle of a sector: the first extent ends at the next boundary of a change of state.
      assert.deepEqual(statusOf(await client.request(NBD_CMD.BLOCK_STATUS, base + 2 * S + 100, 3 * S)).extents, [[2 * S - 100, 0], [S + 100, HOLE_ZERO]], where);
      // REQ_ONE: one descriptor, never past the request.
      assert.deepEqual(statusOf(await client.request(NBD_CMD.BLOCK_STATUS, base, 2 * S, { flags: NBD_CMD_FLAG.REQ_ONE })).extents, [[2 * S, 0]], where);
      assert.deepEqual(statusOf(await client.request(NBD_CMD.BLOCK_STATUS, base + 4 * S, 20 * S, { flags: NBD_CMD_FLAG.REQ_ONE })).extents, [[8 * S, HOLE_ZERO]], where);
    }
    // The whole export: at least one descriptor, never past it; a length past 2^25 is fine for a status.
    const all = statusOf(await client.request(NBD_CMD.BLOCK_STATUS, 0, SIZE));
    assert.ok(all.extents.reduce((sum, [length]) => sum + length, 0) <= SIZE);
    assert.ok(all.extents.every(([length]) => length > 0));
    // Length 0, past the end, unknown flags: EINVAL, and the connection goes on.
    for (const [offset, length, flags] of [[0, 0, 0], [SIZE - S, 2 * S, 0], [SIZE, 1, 0], [0, S, NBD_CMD_FLAG.DF]] as const) {
      assert.equal((await client.request(NBD_CMD.BLOCK_STATUS, offset, length, { flags })).error, NBD_ERROR.EINVAL, `${offset}+${length} flags ${flags}`);
    }
    assert.equal(statusOf(await client.request(NBD_CMD.BLOCK_STATUS, base, S)).extents.length, 1);
    await client.disconnect();
  });

  test('block status with 512-byte sectors: every sector its own state, however they alternate', async () => {
    const { client } = await RawNbdClient.open(served.port, 'other', { structured: true, contexts: [BASE_ALLOCATION] });
    for (let lba = 0; lba < 2048; lba += 3) assert.equal((await client.request(NBD_CMD.WRITE, lba * 512, 512, { data: randomBytes(512) })).error, 0);
    const { extents } = statusOf(await client.request(NBD_CMD.BLOCK_STATUS, 0, 2048 * 512));
    let lba = 0;
    for (const [length, flags] of extents) {
      assert.equal(flags, lba % 3 === 0 ? 0 : HOLE_ZERO, `LBA ${lba}`);
      assert.equal(length, lba % 3 === 0 ? 512 : Math.min(2, 2048 - lba) * 512, `LBA ${lba}`);
      lba += length / 512;
    }
    assert.equal(lba, 2048);
    await client.disconnect();
  });

  test('block status of a large range is answered for a part (65,536 sectors at most), and asked again from there', async () => {
    const { client } = await RawNbdClient.open(served.port, 'other', { structured: true, contexts: [BASE_ALLOCATION] });
    const size = 64 << 20;
    const first = statusOf(await client.request(NBD_CMD.BLOCK_STATUS, 0, size)).extents;
    const covered = first.reduce((sum, [length]) => sum + length, 0);
    assert.equal(covered, 65_536 * 512, 'the first reply stops at its limit');
    let offset = covered;
    while (offset < size) offset += statusOf(await client.request(NBD_CMD.BLOCK_STATUS, offset, size - offset)).extents.reduce((sum, [length]) => sum + length, 0);
    assert.equal(offset, size);
    await client.disconnect();
  });
});
