// The transmission phase (spec, "Transmission" and "Request types"): requests are read one after
// another and run concurrently (up to a bound of requests and bytes per connection), each answered
// with a simple reply as soon as it completes, in whatever order that is (the spec allows it;
// replies carry the request's handle). Each request is checked against the export (flags, range,
// size limit, read-only) before the volume sees it; a refused request gets its error value and the
// connection carries on. Only a breach of the framing itself (a bad request magic) ends the
// connection, since nothing after it can be parsed; requests already running finish first.
import type { Socket } from 'node:net';
import { bufferPool } from '../buffer-pool.js';
import type { Logger } from '../logger.js';
import { SectorIntegrityError, VolumeError } from '../volume/block-volume.js';
import { MAX_REQUEST_BYTES } from './export-policy.js';
import {
  NBD_CMD,
  NBD_CMD_FLAG,
  NBD_ERROR,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
  REQUEST_HEADER_BYTES,
  SIMPLE_REPLY_HEADER_BYTES,
  nameOf,
} from './nbd-constants.js';
import type { ChosenExport } from './option-haggling.js';
import { ProtocolError, type SocketReader } from './socket-reader.js';

interface Request {
  flags: number;
  type: number;
  handle: Buffer;
  offset: bigint;
  length: number;
}

/** Command flags each command accepts. FUA is valid on every command once SEND_FUA was advertised. */
const ALLOWED_FLAGS: Readonly<Record<number, number>> = {
  [NBD_CMD.READ]: NBD_CMD_FLAG.FUA,
  [NBD_CMD.WRITE]: NBD_CMD_FLAG.FUA,
  [NBD_CMD.FLUSH]: NBD_CMD_FLAG.FUA,
  [NBD_CMD.TRIM]: NBD_CMD_FLAG.FUA,
  [NBD_CMD.WRITE_ZEROES]: NBD_CMD_FLAG.FUA | NBD_CMD_FLAG.NO_HOLE,
};

type Outcome = { error: number; data?: Buffer };
const OK: Outcome = { error: 0 };
const fail = (error: number): Outcome => ({ error });

/** Requests of one connection running at once, at most; and their READ/WRITE bytes, at most (one may exceed it alone). */
const MAX_REQUESTS_IN_FLIGHT = 64;
const MAX_BYTES_IN_FLIGHT = 64 << 20;

/** Serves requests until the client sends NBD_CMD_DISC (resolves) or the connection ends (rejects). */
export async function serveTransmission(socket: Socket, reader: SocketReader, chosen: ChosenExport, log: Logger): Promise<void> {
  const running = new Set<Promise<void>>();
  let bytesInFlight = 0;
  try {
    for (;;) {
      if (socket.writableNeedDrain) await drained(socket);
      const header = await reader.read(REQUEST_HEADER_BYTES);
      if (header.readUInt32BE(0) !== NBD_REQUEST_MAGIC) throw new ProtocolError('a request did not start with NBD_REQUEST_MAGIC');
      const request: Request = {
        flags: header.readUInt16BE(4),
        type: header.readUInt16BE(6),
        handle: Buffer.from(header.subarray(8, 16)),
        offset: header.readBigUInt64BE(16),
        length: header.readUInt32BE(24),
      };
      if (request.type === NBD_CMD.DISC) return; // after the running requests (finally)

      if (request.type === NBD_CMD.WRITE && request.length > MAX_REQUEST_BYTES) {
        await reader.skip(request.length); // keep the stream in step, then refuse
        sendReply(socket, request.handle, fail(NBD_ERROR.EINVAL));
        continue;
      }
      const bytes = request.type === NBD_CMD.READ || request.type === NBD_CMD.WRITE ? Math.min(request.length, MAX_REQUEST_BYTES) : 0;
      while (running.size >= MAX_REQUESTS_IN_FLIGHT || (running.size > 0 && bytesInFlight + bytes > MAX_BYTES_IN_FLIGHT)) await Promise.race(running);
      const payload = request.type === NBD_CMD.WRITE ? await reader.read(request.length) : null;
      bytesInFlight += bytes;
      const task: Promise<void> = execute(request, payload, chosen)
        .catch((error: unknown) => failure(error, request, chosen, log))
        .then((outcome) => sendReply(socket, request.handle, outcome))
        .catch((error: unknown) => log.error({ export: chosen.name, err: error }, 'reply failed'))
        .finally(() => {
          bytesInFlight -= bytes;
          running.delete(task);
        });
      running.add(task);
    }
  } finally {
    await Promise.allSettled(running);
  }
}

/** Runs a checked request. A WRITE's payload is handed to the volume; refused before that, it goes back to the pool. */
async function execute(request: Request, payload: Buffer | null, chosen: ChosenExport): Promise<Outcome> {
  const outcome = check(request, chosen);
  if (payload && (outcome !== null || request.type !== NBD_CMD.WRITE)) bufferPool.give(payload);
  return outcome ?? perform(request, payload, chosen);
}

/** The error value of a request the export cannot take, or null. */
function check(request: Request, { volume }: ChosenExport): Outcome | null {
  const { type, flags, offset, length } = request;
  const allowed = ALLOWED_FLAGS[type];
  if (allowed === undefined) return fail(NBD_ERROR.EINVAL); // unknown, or not advertised (CACHE, BLOCK_STATUS …)
  if ((flags & ~allowed) !== 0) return fail(NBD_ERROR.EINVAL);
  if (type === NBD_CMD.FLUSH) return offset !== 0n || length !== 0 ? fail(NBD_ERROR.EINVAL) : null;
  if (length > MAX_REQUEST_BYTES) return fail(NBD_ERROR.EINVAL);
  // Past the end: ENOSPC for writes, EINVAL for reads and trims (spec, "Error values").
  if (offset + BigInt(length) > BigInt(volume.size)) {
    return fail(type === NBD_CMD.WRITE || type === NBD_CMD.WRITE_ZEROES ? NBD_ERROR.ENOSPC : NBD_ERROR.EINVAL);
  }
  if (type !== NBD_CMD.READ && volume.readOnly) return fail(NBD_ERROR.EPERM);
  return null;
}

async function perform(request: Request, payload: Buffer | null, { volume }: ChosenExport): Promise<Outcome> {
  const { type, flags, offset, length } = request;
  const fua = (flags & NBD_CMD_FLAG.FUA) !== 0;
  const at = Number(offset);
  switch (type) {
    case NBD_CMD.FLUSH:
      await volume.flush();
      return OK;
    case NBD_CMD.READ:
      return { error: 0, data: await volume.read(at, length) };
    case NBD_CMD.WRITE:
      await volume.write(at, payload!, { fua });
      return OK;
    case NBD_CMD.TRIM:
      await volume.trim(at, length, { fua });
      return OK;
    default: // NBD_CMD.WRITE_ZEROES; NO_HOLE needs nothing: zeroed sectors keep their place in the backing file
      await volume.writeZeroes(at, length, { fua });
      return OK;
  }
}

/** The error value for a failed request; integrity failures and server faults are logged. */
function failure(error: unknown, request: Request, { name }: ChosenExport, log: Logger): Outcome {
  const command = nameOf(NBD_CMD, request.type);
  const where = { export: name, command, offset: request.offset, length: request.length };
  if (error instanceof SectorIntegrityError) {
    log.warn({ ...where, lbas: error.lbas }, 'sector integrity check failed: request refused with EIO');
    return fail(NBD_ERROR.EIO);
  }
  if (error instanceof VolumeError) {
    const value = {
      OUT_OF_RANGE: NBD_ERROR.EINVAL,
      INTEGRITY: NBD_ERROR.EIO,
      READ_ONLY: NBD_ERROR.EPERM,
      NO_SPACE: NBD_ERROR.ENOSPC,
      IO: NBD_ERROR.EIO,
      CLOSED: NBD_ERROR.ESHUTDOWN,
    }[error.code];
    if (error.code === 'IO' || error.code === 'NO_SPACE') log.error({ ...where, err: error }, 'volume failure');
    return fail(value);
  }
  log.error({ ...where, err: error }, 'request failed');
  return fail(NBD_ERROR.EIO);
}

/**
 * A simple reply: magic, error, the request's handle, then the data of a successful read (given
 * back to the pool once sent). Replies finished in the same tick leave together, in one write: a
 * merged data-plane batch answers many requests at once, and each write would wake the client.
 */
function sendReply(socket: Socket, handle: Buffer, { error, data }: Outcome): void {
  if (socket.destroyed) {
    if (data) bufferPool.give(data);
    return;
  }
  const header = Buffer.allocUnsafe(SIMPLE_REPLY_HEADER_BYTES);
  header.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  header.writeUInt32BE(error, 4);
  handle.copy(header, 8);
  if (socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  socket.write(header);
  if (data && data.length > 0) socket.write(data, () => bufferPool.give(data));
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
