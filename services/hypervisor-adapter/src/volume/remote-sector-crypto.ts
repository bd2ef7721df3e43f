// SectorCrypto over a block session of the service's data plane (@sealkeep/sdk's BlockSession):
// the volume key never reaches the adapter. Writes go out as one encrypt-sign per run and reads as
// one verify-decrypt per run, the answers written over the request's own buffer (no fresh
// megabytes); the key check uses LBA 0, as the data plane takes only LBAs inside the volume.
//
// A session can end for two kinds of reason. The key's release ended (the host's attestation
// lapsed, the VM restarted, the key was disabled, the session was closed): every call fails from
// then on with a VolumeError IO naming why — the NBD client sees EIO — and nothing of a failed
// write reaches the journal. Or the session itself ran out while the release still holds: it sat
// idle for the service's idle time, its node is stopping, or the node answering does not hold it
// (restarted, or another node): then, given `reopen`, the next call opens a new session first
// (the service checks every release condition again), and a call the end caught in flight runs
// once more on it when that is safe — when it was one batch (MAX_BATCH_SECTOR_BYTES), since a
// batch the session refused wrote nothing into the buffers it shares with its answer. So every
// call — the volume's reads and writes (verifyAndDecrypt, encryptAndTag), a replay's verify of a
// journal record of up to 32 MiB — goes to the session in runs of at most one batch, side by side
// (each one batch of the session's queue, merged there with its neighbours as before), and each
// run the end caught runs again on its own: a write of 32 MiB rides through a service restart
// like a write of 4 KiB. A new session that cannot be opened fails its call (EIO). Other failures
// of the data plane (connection refused, time-outs) are IO errors of that call.

import { IntegrityError, MAX_BATCH_SECTOR_BYTES, SessionEndedError, VolumeStateDiffersError, type BlockSession, type VolumeStateMoment } from '@sealkeep/sdk';
import { TAG_BYTES, type Continuity } from '@sealkeep/crypto';
import { allOrFirstFailure } from '../settle.js';
import { VolumeError } from './block-volume.js';
import type { SectorCrypto } from './sector-crypto.js';

const view = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Ends after which the key is still released: a new session may be opened in the ended one's place. */
const RENEWABLE = new Set(['idle', 'service-stopping', 'unknown']);

/** Whether a session that ended this way may be replaced by a new one (the release itself did not end). */
export const renewable = (ended: SessionEndedError): boolean => RENEWABLE.has(ended.reason);

/** The data plane's failure as the volume's: IO (EIO), with the session's end reason when it ended. */
function asVolumeError(error: unknown): never {
  if (error instanceof VolumeError) throw error;
  if (error instanceof SessionEndedError) {
    const why = renewable(error) ? 'under this call (a new session serves the next one)' : "the volume's key is no longer released";
    throw new VolumeError('IO', `the block session ended (${error.reason}): ${why}`, { cause: error });
  }
  throw new VolumeError('IO', `the data plane failed: ${(error as Error).message}`, { cause: error });
}

export class RemoteSectorCrypto implements SectorCrypto {
  readonly keyCheckLba = 0n;
  #session: BlockSession;
  readonly #reopen: (() => Promise<BlockSession>) | null;
  /** The new session being opened in place of a renewable ended one (one opening at a time). */
  #opening: Promise<BlockSession> | null = null;
  #closing = false;
  /** Settles once close() has ended the session at the service: null, or what failed. */
  closed: Promise<unknown> = Promise.resolve(null);

  /** `reopen` opens a new session for the same volume; without it, any end of the session is final. */
  constructor(session: BlockSession, reopen?: () => Promise<BlockSession>) {
    this.#session = session;
    this.#reopen = reopen ?? null;
  }

  /** The session calls run on now. */
  get session(): BlockSession {
    return this.#session;
  }

  async encrypt(firstLba: bigint, plaintext: Uint8Array): Promise<Buffer> {
    const data = view(plaintext);
    await this.#inBatches(firstLba, data, (s, lba, run) => s.encrypt(lba, run, run));
    return data;
  }

  async decrypt(firstLba: bigint, ciphertext: Uint8Array): Promise<Buffer> {
    const data = view(ciphertext);
    await this.#inBatches(firstLba, data, (s, lba, run) => s.decrypt(lba, run, run));
    return data;
  }

  async tag(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array): Promise<Buffer> {
    const tags = Buffer.allocUnsafe((ciphertext.length / this.#sectorSize) * TAG_BYTES);
    await this.#inBatches(firstLba, view(ciphertext), async (s, lba, run, from, to) => {
      (await s.sign(lba, generations.subarray(from, to), run)).copy(tags, from * TAG_BYTES);
    });
    return tags;
  }

  async verify(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): Promise<bigint[]> {
    return this.#failingLbas(firstLba, view(ciphertext), (s, lba, run, from, to) => s.verify(lba, generations.subarray(from, to), run, tags.subarray(from * TAG_BYTES, to * TAG_BYTES)));
  }

  async encryptAndTag(firstLba: bigint, generations: BigUint64Array, plaintext: Uint8Array): Promise<{ ciphertext: Buffer; tags: Buffer }> {
    const data = view(plaintext);
    const tags = Buffer.allocUnsafe((data.length / this.#sectorSize) * TAG_BYTES);
    await this.#inBatches(firstLba, data, (s, lba, run, from, to) => s.encryptSign(lba, generations.subarray(from, to), run, run, tags.subarray(from * TAG_BYTES, to * TAG_BYTES)));
    return { ciphertext: data, tags };
  }

  async verifyAndDecrypt(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): Promise<{ plaintext: Buffer } | { failing: bigint[] }> {
    const data = view(ciphertext);
    const failing = await this.#failingLbas(firstLba, data, (s, lba, run, from, to) => s.verifyDecrypt(lba, generations.subarray(from, to), run, tags.subarray(from * TAG_BYTES, to * TAG_BYTES), run));
    return failing.length ? { failing } : { plaintext: data };
  }

  get #sectorSize(): number {
    return this.#session.sectorSize;
  }

  /**
   * Runs `call` on each run of at most one batch of `data`'s sectors (sector indices from, to),
   * side by side, each on the session as #run renews it; the first failure once all have settled.
   */
  async #inBatches(firstLba: bigint, data: Buffer, call: (s: BlockSession, lba: bigint, run: Buffer, from: number, to: number) => Promise<unknown>): Promise<void> {
    const S = this.#sectorSize;
    const step = Math.max(1, Math.floor(MAX_BATCH_SECTOR_BYTES / S));
    const sectors = data.length / S;
    const runs: Array<{ from: number; to: number }> = [];
    for (let from = 0; from < sectors || runs.length === 0; from += step) runs.push({ from, to: Math.min(sectors, from + step) });
    await allOrFirstFailure(
      runs.map(({ from, to }) => {
        const run = data.subarray(from * S, to * S);
        return this.#run((s) => call(s, firstLba + BigInt(from), run, from, to));
      }),
    );
  }

  /** Runs a checking call in batches (#inBatches): every LBA whose tag does not match, in order; none if all do. */
  async #failingLbas(firstLba: bigint, data: Buffer, call: (s: BlockSession, lba: bigint, run: Buffer, from: number, to: number) => Promise<unknown>): Promise<bigint[]> {
    const failing: bigint[] = [];
    await this.#inBatches(firstLba, data, async (s, lba, run, from, to) => {
      try {
        await call(s, lba, run, from, to);
      } catch (error) {
        if (!(error instanceof IntegrityError)) throw error;
        failing.push(...error.lbas);
      }
    });
    return failing.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  }

  /** The root of the volume's tags recorded with the service at its open, a checkpoint or its clean close; a refused open is a VolumeStateDiffersError. */
  async recordState(moment: VolumeStateMoment, merkleRoot: Buffer, passedThrough: Buffer[] = []): Promise<Continuity> {
    return (await this.#run((s) => s.recordVolumeState(moment, merkleRoot, passedThrough))).continuity;
  }

  /** Ends the session at the service (the one being opened, if any, once it is); no new one opens after. */
  close(): void {
    this.#closing = true;
    const current = async () => (this.#opening ? this.#opening.catch(() => this.#session) : this.#session);
    this.closed = current()
      .then((s) => s.close())
      .then(
        () => null,
        (error: unknown) => error,
      );
  }

  /**
   * Runs a call of at most one batch (#inBatches splits larger ones) on the session, renewed first
   * if it ran out; IntegrityError and VolumeStateDiffersError pass, other failures become VolumeErrors.
   */
  async #run<T>(call: (s: BlockSession) => Promise<T>): Promise<T> {
    try {
      try {
        return await call(await this.#live());
      } catch (error) {
        // One batch the session refused wrote nothing: it runs again, once, on a new session.
        if (!(error instanceof SessionEndedError) || !this.#mayRenew(error)) throw error;
        return await call(await this.#live());
      }
    } catch (error) {
      if (error instanceof IntegrityError || error instanceof VolumeStateDiffersError) throw error;
      return asVolumeError(error);
    }
  }

  #mayRenew(ended: SessionEndedError): boolean {
    return this.#reopen !== null && !this.#closing && renewable(ended);
  }

  /** The session, or — when it ran out and may be renewed — the new one opened in its place. */
  async #live(): Promise<BlockSession> {
    const ended = this.#session.ended;
    if (!ended || !this.#mayRenew(ended)) return this.#session; // (a final end fails the call there)
    this.#opening ??= this.#reopen!()
      .then((s) => {
        void this.#session.close().catch(() => undefined); // (ended: only its connections are left to close)
        return (this.#session = s);
      })
      .finally(() => (this.#opening = null));
    return this.#opening;
  }
}
