// Replies in the transmission phase (spec, "Simple reply message" and "Structured reply chunk
// message"). Without structured replies every request gets a simple reply: its error value, and
// a successful read's data after it. Once the client negotiated them, a read is answered with one
// OFFSET_DATA chunk (so NBD_CMD_FLAG_DF always holds), a block status with one BLOCK_STATUS chunk
// for the one context this server has, and every failure with an ERROR chunk that carries a
// message for the person reading the client's log (the failing LBAs of an integrity check, say);
// other successes keep the simple reply, as the spec allows for replies without data. Replies
// finished in the same tick leave together, in one write: a merged data-plane batch answers many
// requests at once, and each write would wake the client.

import type { Socket } from 'node:net';
import { bufferPool } from '../buffer-pool.js';
import type { Extent } from '../volume/block-volume.js';
import {
  NBD_CMD,
  NBD_MAX_STRING_BYTES,
  NBD_REPLY_FLAG,
  NBD_REPLY_TYPE,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STATE,
  NBD_STRUCTURED_REPLY_MAGIC,
  SIMPLE_REPLY_HEADER_BYTES,
  STRUCTURED_REPLY_HEADER_BYTES,
} from './nbd-constants.js';
import type { ChosenExport } from './option-haggling.js';

/** How a request ended: its data (a read), its extents (a block status), or its error value and why. */
export type Outcome = { error: 0; data?: Buffer; extents?: Extent[] } | { error: number; message: string };

/** What a reply needs of its request: the handle it echoes, the offset a read's chunk names, and its type. */
export interface RequestHead {
  handle: Buffer;
  offset: bigint;
  type: number;
}

export const OK: Outcome = { error: 0 };
export const fail = (error: number, message: string): Outcome => ({ error, message });

/**
 * Sends the reply to one request, in the form the connection negotiated (`chosen`); a read's
 * pooled data goes back to the pool once written (or at once, the socket gone).
 */
export function sendReply(socket: Socket, to: RequestHead, { structured, allocationContext }: ChosenExport, outcome: Outcome): void {
  const failed = 'message' in outcome;
  const data = failed ? undefined : outcome.data;
  if (socket.destroyed) {
    if (data) bufferPool.give(data);
    return;
  }
  if (socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  if (failed && structured) return void socket.write(errorChunk(to.handle, outcome.error, outcome.message));
  if (!failed && outcome.extents) return void socket.write(blockStatusChunk(to.handle, allocationContext!, outcome.extents));
  // With structured replies a read is always a chunk, never a simple reply.
  if (!structured || to.type !== NBD_CMD.READ) return simpleReply(socket, to.handle, outcome.error, data);
  if (!data || data.length === 0) return void socket.write(chunkHeader(to.handle, NBD_REPLY_TYPE.NONE, 0));
  const head = chunkHeader(to.handle, NBD_REPLY_TYPE.OFFSET_DATA, 8 + data.length, 8);
  head.writeBigUInt64BE(to.offset, STRUCTURED_REPLY_HEADER_BYTES);
  socket.write(head);
  socket.write(data, () => bufferPool.give(data));
}

function simpleReply(socket: Socket, handle: Buffer, error: number, data: Buffer | undefined): void {
  const header = Buffer.allocUnsafe(SIMPLE_REPLY_HEADER_BYTES);
  header.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  header.writeUInt32BE(error, 4);
  handle.copy(header, 8);
  socket.write(header);
  if (data && data.length > 0) socket.write(data, () => bufferPool.give(data));
}

/** The final (DONE) chunk's header of `type` with a payload of `length` bytes, and `room` bytes after it for the payload's start. */
function chunkHeader(handle: Buffer, type: number, length: number, room = 0): Buffer {
  const header = Buffer.alloc(STRUCTURED_REPLY_HEADER_BYTES + room);
  header.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, 0);
  header.writeUInt16BE(NBD_REPLY_FLAG.DONE, 4);
  header.writeUInt16BE(type, 6);
  handle.copy(header, 8);
  header.writeUInt32BE(length, 16);
  return header;
}

/** `text` cut to the spec's NBD_MAX_STRING_BYTES of UTF-8 at a character's edge when longer, `mark` ending a cut text. */
export function nbdString(text: string, mark = ''): string {
  if (Buffer.byteLength(text) <= NBD_MAX_STRING_BYTES) return text;
  const room = NBD_MAX_STRING_BYTES - Buffer.byteLength(mark);
  return Buffer.from(text, 'utf8').subarray(0, room).toString('utf8').replace(/\uFFFD+$/, '') + mark;
}

/** An ERROR chunk: the error value and a message (UTF-8, no NUL, cut to the spec's 4096 bytes on a character boundary). */
function errorChunk(handle: Buffer, error: number, message: string): Buffer {
  const text = Buffer.from(nbdString(message.replaceAll('\0', ' ')), 'utf8');
  const chunk = chunkHeader(handle, NBD_REPLY_TYPE.ERROR, 6 + text.length, 6 + text.length);
  chunk.writeUInt32BE(error, STRUCTURED_REPLY_HEADER_BYTES);
  chunk.writeUInt16BE(text.length, STRUCTURED_REPLY_HEADER_BYTES + 4);
  text.copy(chunk, STRUCTURED_REPLY_HEADER_BYTES + 6);
  return chunk;
}

/** A BLOCK_STATUS chunk for base:allocation: each extent's length and its state (a run with no data is a hole that reads as zeros). */
function blockStatusChunk(handle: Buffer, context: number, extents: Extent[]): Buffer {
  const payload = 4 + 8 * extents.length;
  const chunk = chunkHeader(handle, NBD_REPLY_TYPE.BLOCK_STATUS, payload, payload);
  let at = STRUCTURED_REPLY_HEADER_BYTES;
  chunk.writeUInt32BE(context, at);
  at += 4;
  for (const { length, zero } of extents) {
    chunk.writeUInt32BE(length, at);
    chunk.writeUInt32BE(zero ? NBD_STATE.HOLE | NBD_STATE.ZERO : 0, at + 4);
    at += 8;
  }
  return chunk;
}
