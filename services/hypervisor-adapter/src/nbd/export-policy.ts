// What this server promises about every export: the transmission flags it advertises and the
// block size constraints (spec, "Block size constraints"), used alike by option haggling, which
// announces them, and by transmission, which enforces them.

import type { BlockVolume } from '../volume/block-volume.js';
import { NBD_FLAG } from './nbd-constants.js';

/**
 * The largest READ/WRITE/TRIM/WRITE_ZEROES length accepted: 2^25 bytes, the size the spec says
 * clients may always use and servers should not treat as a denial of service. Larger requests
 * are answered NBD_EINVAL (a WRITE's payload is read and dropped first, keeping the stream whole).
 */
export const MAX_REQUEST_BYTES = 1 << 25;

/** Any byte offset and length works (partial sectors are read-modify-written). */
export const MIN_BLOCK_BYTES = 1;

export interface BlockSizeConstraints {
  minimum: number;
  /** Aligned requests of this size avoid read-modify-write: the volume's sector. */
  preferred: number;
  maximum: number;
}

export function blockSizeConstraints(volume: BlockVolume): BlockSizeConstraints {
  return { minimum: MIN_BLOCK_BYTES, preferred: volume.sectorSize, maximum: MAX_REQUEST_BYTES };
}

/**
 * FLUSH, FUA, TRIM and WRITE_ZEROES are served; CAN_MULTI_CONN holds because every connection to
 * an export shares the one volume object, whose flush covers every connection's writes. FAST_ZERO
 * too: zeroing whole sectors changes only their generation words, no data is encrypted or written
 * (partial sectors would be a read-modify-write, so a fast zero that has them is refused, ENOTSUP).
 * DF is advertised once structured replies are negotiated (the spec forbids it before): a read is
 * then always answered in one chunk.
 */
export function transmissionFlags(volume: BlockVolume, structured: boolean): number {
  return (
    NBD_FLAG.HAS_FLAGS |
    (structured ? NBD_FLAG.SEND_DF : 0) |
    NBD_FLAG.SEND_FLUSH |
    NBD_FLAG.SEND_FUA |
    NBD_FLAG.SEND_TRIM |
    NBD_FLAG.SEND_WRITE_ZEROES |
    NBD_FLAG.SEND_FAST_ZERO |
    NBD_FLAG.CAN_MULTI_CONN |
    (volume.readOnly ? NBD_FLAG.READ_ONLY : 0)
  );
}
