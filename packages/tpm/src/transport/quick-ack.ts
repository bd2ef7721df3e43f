// TCP_QUICKACK for a socket, through the small native addon in packages/tpm/native when it is
// built (`npm run build:native`, done by the build); without it this is a no-op and the server
// still works, only slower with clients that split writes (see mssim-server.ts).

import { createRequire } from 'node:module';
import type net from 'node:net';

type Addon = { quickAck(fd: number): void };
let addon: Addon | null | undefined;

function load(): Addon | null {
  if (addon !== undefined) return addon;
  try {
    addon = createRequire(import.meta.url)('../../native/build/Release/sealkeep_net.node') as Addon;
  } catch {
    addon = null;
  }
  return addon;
}

export function quickAckAvailable(): boolean {
  return load() !== null;
}

/** Ask the kernel to acknowledge received data at once (Linux; re-armed after every read). */
export function quickAck(socket: net.Socket): void {
  const a = load();
  if (!a) return;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd === 'number' && fd >= 0) a.quickAck(fd);
}
