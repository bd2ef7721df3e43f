// RemoteSectorCrypto's renewal rules, over stand-in sessions: an end the release still allows
// opens one new session, at the next call or for the call it caught in flight — a write (or a
// replay's verify) of several batches goes in runs of one batch, and only the runs the end caught
// run again (nothing of them was written); a final end fails with EIO; nothing is reopened after
// close().

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntegrityError, MAX_BATCH_SECTOR_BYTES, SessionEndedError, type BlockSession } from '@sealkeep/sdk';
import { VolumeError } from './block-volume.js';
import { RemoteSectorCrypto } from './remote-sector-crypto.js';

const ended = (reason: string) => new SessionEndedError(410, 'https://sealkeep.dev/problems/session-ended', `the block session ended: ${reason}`, { reason });

/** A session whose encryptSign answers (its id in every byte), or — once `end()` was called with a reason — fails as an ended session does. */
function standIn(id: number) {
  let endedWith: SessionEndedError | null = null;
  let calls = 0;
  let closed = false;
  /** Calls answered before the end, when one is set to come (endAfter). */
  let answering = Infinity;
  let endsWith = '';
  const runs: Array<[bigint, number]> = [];
  const session = {
    id: `s${id}`,
    sectorSize: 4096,
    get ended() {
      return endedWith;
    },
    async encryptSign(lba: bigint, gens: BigUint64Array, plaintext: Uint8Array, into: Buffer, tags: Buffer) {
      calls++;
      const answered = calls <= answering;
      await new Promise((resolve) => setImmediate(resolve));
      if (!answered) endedWith ??= ended(endsWith);
      if (endedWith) throw endedWith;
      assert.equal(gens.length, plaintext.length / 4096, 'a generation per sector');
      runs.push([lba, plaintext.length / 4096]);
      into.fill(id);
      assert.equal(tags.length, (plaintext.length / 4096) * 32, 'a tag per sector, where the caller wants them');
      return { ciphertext: into, tags: tags.fill(id) };
    },
    /** Every sector verifies but LBA 5 and the last of the second batch, each failing run one IntegrityError. */
    async verify(lba: bigint, gens: BigUint64Array, ciphertext: Uint8Array) {
      calls++;
      const answered = calls <= answering;
      await new Promise((resolve) => setImmediate(resolve));
      if (!answered) endedWith ??= ended(endsWith);
      if (endedWith) throw endedWith;
      const count = ciphertext.length / 4096;
      assert.equal(gens.length, count);
      runs.push([lba, count]);
      const failing = [5n, BigInt(2 * (MAX_BATCH_SECTOR_BYTES / 4096) - 1)].filter((f) => f >= lba && f < lba + BigInt(count));
      if (failing.length > 0) throw new IntegrityError(422, 'https://sealkeep.dev/problems/integrity-check-failed', 'a sector failed', { lbas: failing.map(String) }, failing);
    },
    async close() {
      closed = true;
    },
  };
  return {
    session: session as unknown as BlockSession,
    end: (reason: string) => (endedWith = ended(reason)),
    /** Answers `n` more calls, then ends (`reason`) under the next. */
    endAfter: (n: number, reason: string) => ((answering = calls + n), (endsWith = reason)),
    runs,
    get calls() {
      return calls;
    },
    get closed() {
      return closed;
    },
  };
}

const write = (crypto: RemoteSectorCrypto, bytes = 4096) => crypto.encryptAndTag(0n, new BigUint64Array(bytes / 4096), Buffer.alloc(bytes));

test('a session that ran out is replaced at the next call, once however many calls wait for it, and the old one closed', async () => {
  const first = standIn(1);
  const second = standIn(2);
  let opened = 0;
  const crypto = new RemoteSectorCrypto(first.session, async () => (opened++, second.session));
  assert.equal((await write(crypto)).ciphertext[0], 1);
  first.end('idle');
  // (the end known before the calls: as when the stream says so under seq 0)
  const answers = await Promise.all([write(crypto), write(crypto), write(crypto)]);
  assert.deepEqual(answers.map((a) => a.ciphertext[0]), [2, 2, 2]);
  assert.equal(opened, 1);
  assert.equal(crypto.session.id, 's2');
  assert.ok(first.closed, 'the ended session lets its connections go');
});

test('a call the end caught in flight runs again on the new session: a write of several batches in runs of one, only the runs it caught', async () => {
  for (const reason of ['idle', 'service-stopping', 'unknown']) {
    const first = standIn(1);
    const second = standIn(2);
    const crypto = new RemoteSectorCrypto(first.session, async () => second.session);
    const inFlight = write(crypto);
    first.end(reason);
    assert.equal((await inFlight).ciphertext[0], 2, `${reason}: answered by the new session`);

    // 2 batches and one sector: three runs; the first answered before the end, the other two caught by it.
    const before = standIn(3);
    const after = standIn(4);
    const larger = new RemoteSectorCrypto(before.session, async () => after.session);
    const batch = MAX_BATCH_SECTOR_BYTES / 4096;
    before.endAfter(1, reason);
    const { ciphertext, tags } = await write(larger, 2 * MAX_BATCH_SECTOR_BYTES + 4096);
    assert.deepEqual(before.runs, [[0n, batch]], `${reason}: the first run was answered by the old session`);
    assert.deepEqual(after.runs, [[BigInt(batch), batch], [BigInt(2 * batch), 1]], 'the runs the end caught, and only those, by the new one');
    assert.equal(ciphertext.length, 2 * MAX_BATCH_SECTOR_BYTES + 4096);
    assert.deepEqual([ciphertext[0], ciphertext[MAX_BATCH_SECTOR_BYTES], ciphertext.at(-1)], [3, 4, 4]);
    assert.deepEqual([tags[0], tags[batch * 32], tags.at(-1), tags.length], [3, 4, 4, (2 * batch + 1) * 32], "each run's tags in its place");
    assert.equal((await write(larger)).ciphertext[0], 4, 'and the next call is served');
  }
});

test('a final end fails every call with EIO and opens nothing; nor does close() let a new session open', async () => {
  for (const reason of ['key-disabled', 'attestation-lapsed', 'vm-restarted', 'closed']) {
    const first = standIn(1);
    let opened = 0;
    const crypto = new RemoteSectorCrypto(first.session, async () => (opened++, standIn(2).session));
    first.end(reason);
    await assert.rejects(write(crypto), (e: unknown) => e instanceof VolumeError && e.code === 'IO' && e.message.includes(reason));
    assert.equal(opened, 0, reason);
  }
  const first = standIn(1);
  let opened = 0;
  const crypto = new RemoteSectorCrypto(first.session, async () => (opened++, standIn(2).session));
  crypto.close();
  first.end('idle');
  await assert.rejects(write(crypto), VolumeError);
  assert.equal(opened, 0);
  assert.equal(await crypto.closed, null);
});

test("a replay's verify of several batches goes in runs of one: the runs an end caught run again on the new session, and every failing LBA comes back in order", async () => {
  const before = standIn(1);
  const after = standIn(2);
  const crypto = new RemoteSectorCrypto(before.session, async () => after.session);
  const batch = MAX_BATCH_SECTOR_BYTES / 4096;
  const sectors = 2 * batch + 1;
  before.endAfter(1, 'service-stopping');
  const failing = await crypto.verify(0n, new BigUint64Array(sectors), Buffer.alloc(sectors * 4096), Buffer.alloc(sectors * 32));
  assert.deepEqual(before.runs, [[0n, batch]]);
  assert.deepEqual(after.runs, [[BigInt(batch), batch], [BigInt(2 * batch), 1]], 'only the runs the end caught');
  assert.deepEqual(failing, [5n, BigInt(2 * batch - 1)]);
});
