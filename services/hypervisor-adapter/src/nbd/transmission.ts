// The transmission phase (spec, "Transmission" and "Request types"): requests are read one after
// another and run concurrently (up to a bound of requests and bytes per connection), each answered
// as soon as it completes (replies.ts), in whatever order that is (the spec allows it; replies
// carry the request's handle). Each request is checked against the export (flags, range, size
// limit, read-only, a metadata context for a block status) before the volume sees it; a refused
// request gets its error value and the connection carries on. Only a breach of the framing itself
// (a bad request magic) ends the connection, since nothing after it can be parsed; requests
// already running finish first.
import type { Socket } from 'node:net';
import { bufferPool } from '../buffer-pool.js';
import type { Logger } from '../logger.js';
import { SectorIntegrityError, VolumeError } from '../volume/block-volume.js';
import { MAX_REQUEST_BYTES } from './export-policy.js';
import { NBD_CMD, NBD_CMD_FLAG, NBD_ERROR, NBD_REQUEST_MAGIC, REQUEST_HEADER_BYTES, nameOf } from './nbd-constants.js';
import type { ChosenExport } from './option-haggling.js';
import { OK, fail, sendReply, type Outcome } from './replies.js';
import { ProtocolError, type SocketReader } from './socket-reader.js';

interface Request {
  flags: number;
  type: number;
  handle: Buffer;
  offset: bigint;
  length: number;
}

/**
 * Command flags each command accepts. FUA is valid on every command once SEND_FUA was advertised;
 * DF (a read in one chunk, which every structured read is) once structured replies were
 * negotiated (SEND_DF is advertised then); BLOCK_STATUS only once base:allocation was selected.
 */
function allowedFlags(type: number, { structured, allocationContext }: ChosenExport): number | undefined {
  switch (type) {
    case NBD_CMD.READ:
      return NBD_CMD_FLAG.FUA | (structured ? NBD_CMD_FLAG.DF : 0);
    case NBD_CMD.WRITE:
    case NBD_CMD.FLUSH:
    case NBD_CMD.TRIM:
      return NBD_CMD_FLAG.FUA;
    case NBD_CMD.WRITE_ZEROES:
      return NBD_CMD_FLAG.FUA | NBD_CMD_FLAG.NO_HOLE | NBD_CMD_FLAG.FAST_ZERO;
    case NBD_CMD.BLOCK_STATUS:
      return allocationContext === null ? undefined : NBD_CMD_FLAG.FUA | NBD_CMD_FLAG.REQ_ONE;
    default:
      return undefined; // unknown, or not advertised (CACHE, RESIZE …)
  }
}

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
        sendReply(socket, request, chosen, fail(NBD_ERROR.EINVAL, `a write of ${request.length} bytes passes the largest request, ${MAX_REQUEST_BYTES}`));
        continue;
      }
      const bytes = request.type === NBD_CMD.READ || request.type === NBD_CMD.WRITE ? Math.min(request.length, MAX_REQUEST_BYTES) : 0;
      while (running.size >= MAX_REQUESTS_IN_FLIGHT || (running.size > 0 && bytesInFlight + bytes > MAX_BYTES_IN_FLIGHT)) await Promise.race(running);
      const payload = request.type === NBD_CMD.WRITE ? await reader.read(request.length) : null;
      bytesInFlight += bytes;
      const task: Promise<void> = execute(request, payload, chosen)
        .catch((error: unknown) => failure(error, request, chosen, log))
        .then((outcome) => sendReply(socket, request, chosen, outcome))
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
function check(request: Request, chosen: ChosenExport): Outcome | null {
  const { type, flags, offset, length } = request;
  const { volume } = chosen;
  const command = () => nameOf(NBD_CMD, type); // (for a refusal's message only: not on every request)
  const allowed = allowedFlags(type, chosen);
  if (allowed === undefined) {
    return fail(NBD_ERROR.EINVAL, type === NBD_CMD.BLOCK_STATUS ? 'NBD_CMD_BLOCK_STATUS without base:allocation selected (NBD_OPT_SET_META_CONTEXT on this export)' : `command ${command()} is not served`);
  }
  if ((flags & ~allowed) !== 0) return fail(NBD_ERROR.EINVAL, `flags 0x${flags.toString(16)} are not valid on ${command()} here`);
  if (type === NBD_CMD.FLUSH) return offset !== 0n || length !== 0 ? fail(NBD_ERROR.EINVAL, 'NBD_CMD_FLUSH takes offset 0 and length 0') : null;
  // The maximum block size bounds what carries or returns data, and write-zeroes unless fast (spec,
  // "Block size constraints"); a trim or a block status may span the export (a status is answered for a part).
  const fastZero = type === NBD_CMD.WRITE_ZEROES && (flags & NBD_CMD_FLAG.FAST_ZERO) !== 0;
  const anyLength = type === NBD_CMD.BLOCK_STATUS || type === NBD_CMD.TRIM || fastZero;
  if (type === NBD_CMD.BLOCK_STATUS && length === 0) return fail(NBD_ERROR.EINVAL, 'NBD_CMD_BLOCK_STATUS of length 0');
  if (!anyLength && length > MAX_REQUEST_BYTES) return fail(NBD_ERROR.EINVAL, `${command()} of ${length} bytes passes the largest request, ${MAX_REQUEST_BYTES}`);
  // Past the end: ENOSPC for writes, EINVAL for the rest (spec, "Error values").
  if (offset + BigInt(length) > BigInt(volume.size)) {
    const space = type === NBD_CMD.WRITE || type === NBD_CMD.WRITE_ZEROES;
    return fail(space ? NBD_ERROR.ENOSPC : NBD_ERROR.EINVAL, `bytes ${offset}+${length} pass the end of the export (${volume.size} bytes)`);
  }
  if (type !== NBD_CMD.READ && type !== NBD_CMD.BLOCK_STATUS && volume.readOnly) return fail(NBD_ERROR.EPERM, 'the export is read-only');
  if (fastZero && (offset % BigInt(volume.sectorSize) !== 0n || length % volume.sectorSize !== 0)) {
    return fail(NBD_ERROR.ENOTSUP, `a fast zero of a partial sector (the sector is ${volume.sectorSize} bytes) is a read-modify-write, no faster than a write`);
  }
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
    case NBD_CMD.BLOCK_STATUS: {
      const extents = await volume.extents(at, length);
      return { error: 0, extents: (flags & NBD_CMD_FLAG.REQ_ONE) !== 0 ? extents.slice(0, 1) : extents };
    }
    default: // NBD_CMD.WRITE_ZEROES; NO_HOLE needs nothing: zeroed sectors keep their place in the backing file
      await volume.writeZeroes(at, length, { fua });
      return OK;
  }
}

/**
 * The error value for a failed request, and the message a structured reply carries: the volume's
 * own (LBAs, ranges, why the data plane refused; never key material), or none for a fault of this
 * server's (it is logged). Integrity failures and server faults are logged.
 */
function failure(error: unknown, request: Request, { name }: ChosenExport, log: Logger): Outcome {
  const command = nameOf(NBD_CMD, request.type);
  const where = { export: name, command, offset: request.offset, length: request.length };
  if (error instanceof SectorIntegrityError) {
    log.warn({ ...where, lbas: error.lbas }, 'sector integrity check failed: request refused with EIO');
    return fail(NBD_ERROR.EIO, error.message);
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
    return fail(value, error.message);
  }
  log.error({ ...where, err: error }, 'request failed');
  return fail(NBD_ERROR.EIO, `${command} failed in the adapter (its log says why)`);
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
