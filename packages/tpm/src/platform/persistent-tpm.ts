// A TPM whose NV lives in a state file (platform/state-file.ts): opened from the file, or
// manufactured and saved at once when there is none; saved again after every command that
// changes what a TPM keeps in NV (Tpm's onPersistentChange: TPMA_CC.nv commands that succeeded,
// Startup and Shutdown among them, and counted authorization failures), and every
// NV_CLOCK_UPDATE_INTERVAL so Clock is not lost to a crash.
//
// Saves run one at a time; changes made while one is in flight are folded into the next, which
// exports the TPM as it is then (the latest state wins). A command's response can precede its
// save by one write: flush() waits until everything so far is on disk. A save that fails puts
// the TPM in failure mode (every command answers TPM_RC_FAILURE), as a TPM whose NV failed.

import { Tpm, type TpmOptions } from '../engine/tpm.js';
import { exportState, importState } from '../engine/state.js';
import { StateFile, StateFileError, type StateFileOptions } from './state-file.js';

/** The reference TPM writes Clock to NV when it crosses a multiple of 2^22 ms (about 70 s). */
export const NV_CLOCK_UPDATE_INTERVAL_MS = 2 ** 22;

export interface PersistentTpmOptions extends StateFileOptions {
  tpmOptions?: Omit<TpmOptions, 'onPersistentChange'>;
  /** A save failed (the TPM is now in failure mode). Default: reported on stderr. */
  onSaveError?: (err: Error) => void;
  /** How often Clock is saved (default NV_CLOCK_UPDATE_INTERVAL_MS); 0 turns it off. */
  clockSaveIntervalMs?: number;
}

export interface PersistentTpm {
  tpm: Tpm;
  /** Resolves when every change so far is in the state file; rejects if a save failed. */
  flush(): Promise<void>;
  /** Save a last time (Clock, caches), then power the TPM off; later commands are not persisted. */
  close(): Promise<void>;
}

class Saver {
  private inFlight: Promise<void> | null = null;
  private pending = false;
  private failure: Error | null = null;
  closed = false;

  constructor(
    private readonly tpm: Tpm,
    private readonly file: StateFile,
    private readonly onError: (err: Error) => void,
  ) {}

  schedule(): void {
    if (this.closed || this.failure) return;
    this.pending = true;
    this.inFlight ??= this.run();
  }

  private async run(): Promise<void> {
    try {
      // Commands arriving in the same turn of the event loop share one save.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.pending) {
        this.pending = false;
        await this.file.save(exportState(this.tpm));
      }
    } catch (e) {
      this.failure = e instanceof Error ? e : new Error(String(e));
      this.tpm.failureMode = true;
      this.onError(this.failure);
    } finally {
      this.inFlight = null;
    }
  }

  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.failure) throw this.failure;
  }
}

/** Open the TPM saved at `path` (checked against the rollback counter), or make a new one there. */
export async function openPersistentTpm(opts: PersistentTpmOptions): Promise<PersistentTpm> {
  const file = await StateFile.open(opts);
  const state = await file.load();
  let saver: Saver | undefined;
  const tpm = new Tpm({ ...opts.tpmOptions, onPersistentChange: () => saver?.schedule() });
  if (state) {
    try {
      importState(tpm, state);
    } catch (e) {
      throw new StateFileError('format', `state file is authentic but cannot be used: ${(e as Error).message}`, file.path);
    }
  }
  const onError = opts.onSaveError ?? ((e: Error) => console.error(`sealkeep-tpm: saving the TPM state failed, TPM in failure mode: ${e.message}`));
  const s = (saver = new Saver(tpm, file, onError));
  // A new TPM's seeds are on disk before anything is derived from them.
  if (!state) {
    s.schedule();
    await s.flush();
  }

  const interval = opts.clockSaveIntervalMs ?? NV_CLOCK_UPDATE_INTERVAL_MS;
  const timer =
    interval > 0
      ? setInterval(() => {
          if (!tpm.started) return;
          // Reference TimeClockUpdate: Clock written to NV, so it is safe again.
          tpm.clock.safe = true;
          s.schedule();
        }, interval).unref()
      : undefined;

  return {
    tpm,
    flush: () => s.flush(),
    async close() {
      if (s.closed) return s.flush();
      clearInterval(timer);
      s.schedule();
      try {
        await s.flush();
      } finally {
        s.closed = true;
        tpm.powerOff();
      }
    },
  };
}
