// The embedded store is one process's: PGlite has no server to arbitrate between processes, so
// two of them on one data directory would corrupt it. A lock file holding the owner's pid keeps
// a second process out with a clear message; a lock left by a dead process is taken over.

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

/** Take the lock of `dataDir`; returns its release. */
export function lockDataDir(dataDir: string): () => void {
  const file = `${dataDir.replace(/[\\/]+$/, '')}.lock`; // beside PostgreSQL's data directory, not in it
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
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        const who = owner === process.pid ? 'this process already' : `process ${owner}`;
        throw new StoreOpenError(`the embedded store at ${dataDir} is in use by ${who} (stop it first, or use PostgreSQL for more than one process)`);
      }
      unlinkSync(file); // left behind by a process that is gone: take it over
    }
  }
  throw new StoreOpenError(`cannot take the lock of the embedded store at ${dataDir}`);
}
