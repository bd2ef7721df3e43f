// Crash safety, end to end: the adapter runs as its own process; a client keeps up to 8 writes,
// write-zeroes and flushes in flight (some with FUA) until the adapter is killed with SIGKILL
// after a random count of acknowledged writes; then it is started again and every sector is
// read. Each sector must hold exactly one write's content (never a mix), and that write must be
// the last one acknowledged or one issued after it. That is stronger than what NBD asks (the last
// one acknowledged with FUA or before an acknowledged flush), and holds because kill -9 leaves the
// page cache and every journal append completes before its reply; the journal tests cover what a
// power loss can leave. Three crashes in a row, with small limits so that write-backs and
// checkpoints happen under the kill as well.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { NBD_CMD, NBD_CMD_FLAG } from './nbd/nbd-constants.js';
import { RawNbdClient } from './nbd/raw-nbd-client.fixture.js';
import { startAdapterProcess, temporaryDirectory } from './test-kit.fixture.js';

const S = 4096;
const SECTORS = 512; // the working set: 2 MiB, so writes overlap
const IN_FLIGHT = 8;

/** The content a write with this id gives a sector: LBA and id in the clear inside, a hash pattern after. */
function sectorContent(lba: number, id: number): Buffer {
  const sector = Buffer.alloc(S);
  const pattern = createHash('sha256').update(`${lba}/${id}`).digest();
  for (let at = 16; at < S; at += 32) pattern.copy(sector, at);
  sector.writeBigUInt64BE(BigInt(lba), 0);
  sector.writeBigUInt64BE(BigInt(id), 8);
  return sector;
}

interface Write {
  id: number;
  first: number;
  count: number;
  zeroes: boolean;
}

class Model {
  /** Per sector: the last write acknowledged (0: the initial zeros) and the writes issued after it. */
  readonly lastAcknowledged = new Array<number>(SECTORS).fill(0);
  readonly later = Array.from({ length: SECTORS }, () => [] as number[]);
  readonly zeroWrites = new Set<number>([0]);

  issued(write: Write): void {
    if (write.zeroes) this.zeroWrites.add(write.id);
    for (let s = write.first; s < write.first + write.count; s++) this.later[s]!.push(write.id);
  }

  acknowledged(write: Write): void {
    for (let s = write.first; s < write.first + write.count; s++) {
      if (this.lastAcknowledged[s]! >= write.id) continue;
      this.lastAcknowledged[s] = write.id;
      this.later[s] = this.later[s]!.filter((id) => id > write.id);
    }
  }

  /** The write a read sector shows, if it is one the model allows; else why not. */
  check(lba: number, sector: Buffer): string | null {
    const allowed = [this.lastAcknowledged[lba]!, ...this.later[lba]!];
    if (sector.every((b) => b === 0)) return allowed.some((id) => this.zeroWrites.has(id)) ? null : `zeros, but allowed are writes ${allowed}`;
    const id = Number(sector.readBigUInt64BE(8));
    if (!sector.equals(sectorContent(lba, id))) return 'content of no single write (torn)';
    return allowed.includes(id) ? null : `write ${id}, but allowed are writes ${allowed}`;
  }

  /** After a restart, what was read is durable: the adapter synced its files when it replayed. */
  settle(ids: number[]): void {
    ids.forEach((id, s) => {
      this.lastAcknowledged[s] = id;
      this.later[s] = [];
    });
  }
}

test('kill -9 mid-stream, three times: every acknowledged write survives and no sector is torn', { timeout: 120_000 }, async (t) => {
  const { dir, remove } = temporaryDirectory('crash');
  t.after(remove);
  const volumeArg = `name=disk,dir=${path.join(dir, 'disk')},size=16M,sector=${S},key=${path.join(dir, 'disk.key')},pending=256K,journal=1M`;
  const model = new Model();
  let nextId = 1;
  const stats = { writes: 0, fua: 0, replays: 0 };

  for (let round = 1; round <= 3; round++) {
    const adapter = await startAdapterProcess(['--volume', volumeArg]);
    const { client } = await RawNbdClient.open(adapter.port, 'disk');

    // Read back everything and hold it against the model.
    if (round > 1) {
      if (adapter.stderr().includes('journal replayed')) stats.replays++;
      const read = await client.request(NBD_CMD.READ, 0, SECTORS * S);
      assert.equal(read.error, 0, 'no sector reads as an error after the crash');
      const seen: number[] = [];
      for (let lba = 0; lba < SECTORS; lba++) {
        const sector = read.data!.subarray(lba * S, (lba + 1) * S);
        const problem = model.check(lba, sector);
        assert.equal(problem, null, `round ${round}, LBA ${lba}: ${problem}`);
        seen.push(sector.every((b) => b === 0) ? [model.lastAcknowledged[lba]!, ...model.later[lba]!].find((id) => model.zeroWrites.has(id))! : Number(sector.readBigUInt64BE(8)));
      }
      model.settle(seen);
    }

    // Write until killed: after a random count of acknowledged writes (not a time, which a loaded
    // machine could spend before many were sent), with IN_FLIGHT more on their way.
    let killed = false;
    let acknowledged = 0;
    const killAfter = 40 + Math.floor(Math.random() * 120);
    const kill = () => {
      if (killed) return;
      killed = true;
      adapter.child.kill('SIGKILL');
    };
    // (an adapter that stops answering, or dies, fails the test at once instead of at its timeout)
    let failure: unknown = null;
    adapter.child.once('exit', () => {
      if (!killed) failure ??= new Error(`the adapter exited on its own: ${adapter.stderr().slice(-2000)}`);
      killed = true;
    });
    const backstop = setTimeout(() => {
      failure ??= new Error(`only ${acknowledged} of ${killAfter} writes acknowledged in 30 s`);
      kill();
    }, 30_000);
    const inFlight = new Set<Promise<void>>();
    let op = 0;
    while (!killed) {
      while (inFlight.size >= IN_FLIGHT && !killed) await Promise.race(inFlight);
      if (killed) break;
      op++;
      let sent: Promise<void>;
      if (op % 10 === 0) {
        sent = client.request(NBD_CMD.FLUSH, 0, 0).then((r) => {
          if (!killed) assert.equal(r.error, 0, 'a flush failed before the kill');
        });
      } else {
        const zeroes = op % 7 === 0;
        const count = 1 + Math.floor(Math.random() * (zeroes ? 16 : 32));
        const write: Write = { id: nextId++, first: Math.floor(Math.random() * (SECTORS - count)), count, zeroes };
        const fua = Math.random() < 0.3;
        const flags = fua ? NBD_CMD_FLAG.FUA : 0;
        model.issued(write);
        stats.writes++;
        const request = zeroes
          ? client.request(NBD_CMD.WRITE_ZEROES, write.first * S, count * S, { flags })
          : client.request(NBD_CMD.WRITE, write.first * S, count * S, {
              flags,
              data: Buffer.concat(Array.from({ length: count }, (_, i) => sectorContent(write.first + i, write.id))),
            });
        sent = request.then((r) => {
          if (!killed) assert.equal(r.error, 0, 'a write failed before the kill');
          else if (r.error !== 0) return;
          model.acknowledged(write);
          if (fua) stats.fua++;
          if (++acknowledged >= killAfter) kill();
        });
      }
      const tracked: Promise<void> = sent
        .catch((error: unknown) => {
          if (killed) return; // (after the kill, the connection's end fails what was in flight)
          failure ??= error;
          kill();
        })
        .finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    clearTimeout(backstop);
    await Promise.allSettled(inFlight);
    if (failure) throw failure;
    await new Promise((resolve) => (adapter.child.exitCode !== null || adapter.child.signalCode !== null ? resolve(null) : adapter.child.once('exit', resolve)));
    assert.equal(adapter.child.signalCode, 'SIGKILL');
    client.destroy();
  }

  // A last start: the state after the third crash checks out too, and the adapter stops cleanly.
  const adapter = await startAdapterProcess(['--volume', volumeArg]);
  if (adapter.stderr().includes('journal replayed')) stats.replays++;
  const { client } = await RawNbdClient.open(adapter.port, 'disk');
  const read = await client.request(NBD_CMD.READ, 0, SECTORS * S);
  assert.equal(read.error, 0);
  for (let lba = 0; lba < SECTORS; lba++) assert.equal(model.check(lba, read.data!.subarray(lba * S, (lba + 1) * S)), null, `final, LBA ${lba}`);
  await client.disconnect();
  adapter.child.kill('SIGTERM');
  const code = await new Promise((resolve) => adapter.child.once('exit', resolve));
  assert.equal(code, 0);
  t.diagnostic(`${stats.writes} writes issued, ${stats.fua} acknowledged with FUA, journal replayed after ${stats.replays} of 3 crashes`);
});
