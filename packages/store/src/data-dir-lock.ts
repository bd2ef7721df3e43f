// State on disk that is one process's: the embedded store (PGlite has no server to arbitrate
// between processes, so two of them on one data directory would corrupt it), and an emulated
// TPM's state directory (two writers would each refuse the other's rollback counter). A lock file
// holding the owner's pid keeps a second process out with a clear message; a lock left by a dead
// process is taken over.

import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { StoreOpenError } from './errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock `file` for this process; returns its release. When a live process holds it,
 * throws `inUse(who)` — who being "process N", or "this process already".
 */
export function takeProcessLock(file: string, inUse: (who: string) => Error): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) throw inUse(owner === process.pid ? 'this process already' : `process ${owner}`);
      unlinkSync(file); // left behind by a process that is gone: take it over
    }
  }
  throw inUse('another process (its lock could not be taken over)');
}

/** Take the lock of `dataDir`; returns its release. */
export function lockDataDir(dataDir: string): () => void {
  const file = `${dataDir.replace(/[\\/]+$/, '')}.lock`; // beside PostgreSQL's data directory, not in it
  return takeProcessLock(file, (who) => new StoreOpenError(`the embedded store at ${dataDir} is in use by ${who} (stop it first, or use PostgreSQL for more than one process)`));
}
