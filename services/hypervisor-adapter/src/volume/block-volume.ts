// What the NBD server serves: a byte-addressed volume of fixed size made of fixed-size sectors.
// Byte ranges need not be sector-aligned (the implementation reads, modifies and writes whole
// sectors); every failure is a VolumeError whose code the transport maps to its own error values.

import type { SectorSize } from '@sealkeep/crypto';

export interface WriteOptions {
  /** Force unit access: the write is on stable storage when the promise resolves. */
  fua?: boolean;
}

export interface BlockVolume {
  /** Bytes; a whole number of sectors. */
  readonly size: number;
  readonly sectorSize: SectorSize;
  readonly readOnly: boolean;
  /** The plaintext of [offset, offset + length); every sector read is verified first. The buffer may come from bufferPool: give it back when done. */
  read(offset: number, length: number): Promise<Buffer>;
  /** `data` is handed over: the volume may encrypt it in place and keep it (a pooled buffer returns to bufferPool later). */
  write(offset: number, data: Uint8Array, options?: WriteOptions): Promise<void>;
  /** Every write that resolved before this call is on stable storage when this resolves. */
  flush(): Promise<void>;
  /** The range is no longer needed: whole sectors inside it read as zeros afterwards. */
  trim(offset: number, length: number, options?: WriteOptions): Promise<void>;
  /** The range reads as zeros afterwards. */
  writeZeroes(offset: number, length: number, options?: WriteOptions): Promise<void>;
  /**
   * How [offset, offset + length) lies, from `offset`: runs that hold data, and runs that read as
   * zeros and hold none (never written, trimmed or zeroed), at sector granularity (the first and
   * last runs cut at the range's ends). May describe less than the whole range, never more.
   */
  extents(offset: number, length: number): Promise<Extent[]>;
  /** Flushes, then releases files and keys; later calls fail with CLOSED. */
  close(): Promise<void>;
}

export interface Extent {
  length: number;
  /** Reads as zeros and holds no data. */
  zero: boolean;
}

export type VolumeErrorCode =
  /** The range passes the end of the volume. */
  | 'OUT_OF_RANGE'
  /** A sector's tag does not match its ciphertext, LBA and generation: tampered or damaged. */
  | 'INTEGRITY'
  | 'READ_ONLY'
  /** The backing storage is full. */
  | 'NO_SPACE'
  /** The backing storage failed; the volume refuses everything until it is reopened. */
  | 'IO'
  | 'CLOSED';

export class VolumeError extends Error {
  readonly code: VolumeErrorCode;
  constructor(code: VolumeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'VolumeError';
    this.code = code;
  }
}

/** Sectors whose tag check failed; no plaintext of the request is returned. */
export class SectorIntegrityError extends VolumeError {
  readonly lbas: readonly bigint[];
  constructor(lbas: readonly bigint[]) {
    const shown = lbas.slice(0, 8).join(', ') + (lbas.length > 8 ? ` … (${lbas.length} sectors)` : '');
    super('INTEGRITY', `sector tag check failed at LBA ${shown}`);
    this.name = 'SectorIntegrityError';
    this.lbas = lbas;
  }
}

/** A failure of the storage or of the crypto seam, as a VolumeError (a full disk: NO_SPACE). */
export function toVolumeError(error: unknown): VolumeError {
  if (error instanceof VolumeError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const full = code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG';
  return new VolumeError(full ? 'NO_SPACE' : 'IO', `volume storage failed: ${(error as Error).message}`, { cause: error });
}
