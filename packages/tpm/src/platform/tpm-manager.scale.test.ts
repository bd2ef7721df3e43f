// 1,000 vTPMs in one process: each created with fresh seeds, measured (PCRs 9 and 16), given a
// persistent ECC P-256 AK, and quoted — the quote checked with node:crypto against the AK's
// public key and against the PCR digest computed here. Then all are suspended (Shutdown(STATE),
// saved, dropped from memory), a new manager reopens the directory, and each is resumed from
// disk: PCR 9 kept (PCRs 0–15 survive Shutdown(STATE)), PCR 16 back to zero (the debug PCR is not
// saved, as on any PC Client TPM), the persistent AK the same key, restartCount 1.
// Memory per idle vTPM = (heap with all loaded − heap with all suspended) / N, after a full GC,
// measured once after creation and once after the reload.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { TpmManager, type ManagedTpm } from './tpm-manager.js';
import { publicKeyOfArea } from './endorsement.js';
import { AK_HANDLE, checkQuote, createPersistentAk, extend, quote, readPcrs } from './tpm-manager.fixture.js';
import { ReadPublic } from '../commands/object/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const N = 1000;
const CONCURRENCY = 8;

const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();
const measurement = (i: number) => sha256(Buffer.from(`vm-${i} boot volume`));
const extended = (d: Buffer) => sha256(Buffer.alloc(32), d);
const id = (i: number) => `vm-${String(i).padStart(4, '0')}`;

function heap(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Run fn(0 … n-1) with at most `width` in flight (overlapping the state files' fsyncs). */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

test(`${N} vTPMs: created, extended, quoted, suspended, reloaded from disk`, { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-vtpms-'));
  const platformKey = randomBytes(32);
  const records: Array<{ ak: KeyObject; akName: Buffer; resetCount: number }> = [];
  try {
    const manager = await TpmManager.open({ dir, platformKey });
    const times: Record<string, number> = {};
    let start = performance.now();

    await pool(N, CONCURRENCY, async (i) => {
      const vtpm = await manager.create(id(i));
      const client = vtpm.client();
      await extend(client, 9, measurement(i));
      await extend(client, 16, measurement(i));
      const ak = await createPersistentAk(client);
      const nonce = randomBytes(16);
      const q = await quote(client, AK_HANDLE, nonce, [9, 16]);
      const key = publicKeyOfArea(ak.outPublic);
      const pcr = extended(measurement(i));
      const attest = checkQuote(q, key, nonce, sha256(pcr, pcr));
      records[i] = { ak: key, akName: ak.name, resetCount: attest.clockInfo.resetCount };
      await vtpm.flush();
    });
    times.create = performance.now() - start;

    assert.equal(manager.list().length, N);
    assert.ok(manager.list().every((v) => v.loaded && v.role === 'vtpm'));
    const loaded = heap();

    start = performance.now();
    await pool(N, CONCURRENCY, (i) => manager.suspend(id(i)));
    times.suspend = performance.now() - start;
    assert.ok(manager.list().every((v) => !v.loaded));
    const suspended = heap();
    await manager.close();

    const perIdle = (loaded - suspended) / N;
    t.diagnostic(`memory per idle vTPM: ${(perIdle / 1024).toFixed(1)} KiB (${N} loaded − ${N} suspended, heapUsed + external, after a full GC)`);
    assert.ok(perIdle < 64 * 1024, `an idle vTPM takes ${perIdle} bytes`);

    // A new process's manager: everything comes from the state files.
    const reopened = await TpmManager.open({ dir, platformKey });
    assert.deepEqual(
      reopened.list().map((v) => v.id),
      Array.from({ length: N }, (_, i) => id(i)),
    );
    start = performance.now();
    await pool(N, CONCURRENCY, async (i) => {
      const vtpm: ManagedTpm = await reopened.get(id(i));
      const client = vtpm.client();
      const [pcr9, pcr16, pcr17] = await readPcrs(client, [9, 16, 17]);
      assert.deepEqual(pcr9, extended(measurement(i)), `${id(i)} PCR 9 resumed`);
      assert.deepEqual(pcr16, Buffer.alloc(32), `${id(i)} PCR 16 is not state-saved`);
      assert.deepEqual(pcr17, Buffer.alloc(32, 0xff), `${id(i)} PCR 17: a vTPM has no dynamic launch`);
      const { name } = await client.call(ReadPublic, { objectHandle: AK_HANDLE }, {});
      assert.deepEqual(name, records[i]!.akName, `${id(i)} persistent AK`);
      const nonce = randomBytes(16);
      const q = await quote(client, AK_HANDLE, nonce, [9, 16]);
      const attest = checkQuote(q, records[i]!.ak, nonce, sha256(pcr9!, pcr16!));
      assert.equal(attest.clockInfo.resetCount, records[i]!.resetCount, `${id(i)} resumed, not reset`);
      assert.equal(attest.clockInfo.restartCount, 1, `${id(i)} restartCount`);
    });
    times.reload = performance.now() - start;
    const reloaded = heap();
    await pool(N, CONCURRENCY, (i) => reopened.suspend(id(i)));
    const perReloaded = (reloaded - heap()) / N;
    t.diagnostic(`memory per idle vTPM after reload: ${(perReloaded / 1024).toFixed(1)} KiB`);
    assert.ok(perReloaded < 64 * 1024, `an idle reloaded vTPM takes ${perReloaded} bytes`);
    await reopened.close();
    t.diagnostic(
      `${N} vTPMs: create+extend+AK+quote ${(times.create / 1000).toFixed(1)} s, suspend ${(times.suspend / 1000).toFixed(1)} s, ` +
        `reload+read+quote ${(times.reload / 1000).toFixed(1)} s`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
