// The Unix socket an NBD listener binds: only the adapter's own user may connect (the socket is
// made 0600: whoever connects reads and writes the volume's plaintext), a socket file left by an
// adapter that died is replaced, and anything else at the path — a live listener, a regular file —
// is refused rather than removed.

import { lstatSync, rmSync } from 'node:fs';
import { connect } from 'node:net';

export class SocketPathError extends Error {}

/** Whether a server answers on the socket at `path` (ECONNREFUSED: a socket file nobody listens on). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? resolve(false) : reject(err)));
  });
}

/** Makes `path` free for a new socket: nothing there, or a dead socket file removed. */
export async function claimSocketPath(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) throw new SocketPathError(`${path} exists and is not a socket: not removed`);
  if (await answers(path)) throw new SocketPathError(`another server listens on ${path}`);
  rmSync(path, { force: true }); // force: it may have gone since, with the adapter that made it
}

/** Runs `bind` (which must create the socket synchronously, as net.Server.listen does) with only the owner's read and write bits allowed. */
export function bindOwnerOnly<T>(bind: () => T): T {
  const previous = process.umask(0o177);
  try {
    return bind();
  } finally {
    process.umask(previous);
  }
}
