// Reading an upgraded connection into memory its route hands out (node:net's `onread`): a
// protocol that knows where its bytes go — the block stream's frame bodies — has the kernel put
// them there, instead of into a fresh 64 KiB chunk per read that is then copied again (and whose
// pages, freed and taken again, fault in anew). Node offers `onread` only to a socket it makes, so
// the connection's handle moves to a new socket made with it, and the one node:http handed over is
// left without a handle. Only a plain TCP socket moves, and only while nothing it wrote is still
// queued and nothing it read has ended; otherwise (a TLS socket, say) the route reads as usual.

import { Socket, type OnReadOpts } from 'node:net';
import type { Duplex } from 'node:stream';

const NOTHING = Buffer.alloc(0);
/** Whether connections move at all (tests set it false to drive the route's other way of reading). */
export const upgradedReads = { intoOwnMemory: true };

export interface MovedConnection {
  /** The connection now: reads go where `onread` says; write on it too. */
  socket: Socket;
  /** Bytes the old socket had read and not yet handed on (they come before any read of the new one). */
  buffered: Buffer;
}

/** Moves an upgraded connection to a socket that reads through `onread`; null where it cannot (read `socket` as before). */
export function readIntoOwnMemory(socket: Duplex, onread: OnReadOpts): MovedConnection | null {
  if (!upgradedReads.intoOwnMemory || Object.getPrototypeOf(socket) !== Socket.prototype) return null;
  const old = socket as Socket;
  const internals = old as unknown as { _handle: object | null; _readableState: { ended: boolean }; server: unknown; _server: unknown };
  if (!internals._handle || old.destroyed || old.writableLength > 0 || internals._readableState.ended) return null;
  const buffered = (old.read() as Buffer | null) ?? NOTHING;
  const options = { handle: internals._handle, onread, readable: true, writable: true, allowHalfOpen: old.allowHalfOpen };
  const moved = new Socket(options as ConstructorParameters<typeof Socket>[0]);
  // The server counts the connection as open until its socket closes: that is this one now, and
  // the old one, left with neither handle nor server, can no longer close or count it.
  Object.assign(moved, { server: internals.server, _server: internals._server });
  Object.assign(internals, { _handle: null, server: null, _server: null });
  moved.on('error', () => moved.destroy());
  return { socket: moved, buffered };
}
