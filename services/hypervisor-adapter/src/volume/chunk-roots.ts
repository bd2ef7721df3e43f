// tags.roots: the roots of a volume's whole tag chunks (2^16 sectors each; chunk-state.ts) as its
// last clean close left them, so that the next open composes the volume's state root from them instead
// of reading the whole tag file (10 GiB for 1 TiB of 4 KiB sectors), and checks each chunk's tags
// against its root later, when a request first reaches the chunk or the background check does.
//
// The file is the provider's to alter like the rest of the volume, and needs no key: the roots
// compose to the root the service recorded at that close, so a changed root is refused at the open
// (volume-state-differs), and tags changed under an unchanged root are found at the chunk's check.
// It vouches only for the files as they were at that close, so the open that reads it removes it
// (durably, before any request): a crash later leaves no file, and the next open reads every chunk.
//
//   "SKCR" ‖ version u8 = 2 ‖ log2 chunk sectors u8 = 16 ‖ 0 u16 ‖ sector count u64
//   (version 1 held roots of the tags alone: such a file is read as absent)
//   ‖ roots (32 bytes per whole chunk, in order) ‖ SHA-256 of everything before (32)    big-endian
//
// The digest only tells a damaged file (read as absent: every chunk is read at the open) from one
// made to be read.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { removeDurably, writeDurably } from './durable-files.js';

export const ROOTS_FILE = 'tags.roots';
const MAGIC = Buffer.from('SKCR');
const VERSION = 2;
const HEADER_BYTES = 16;
const DIGEST_BYTES = 32;

const digest = (b: Uint8Array) => createHash('sha256').update(b).digest();
const fileBytes = (sectorCount: number, chunkSectors: number) => HEADER_BYTES + 32 * Math.floor(sectorCount / chunkSectors) + DIGEST_BYTES;
const NOT_OURS = 'not a chunk roots file of this volume';

export function encodeChunkRoots(sectorCount: number, chunkSectors: number, roots: readonly Buffer[]): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header);
  header[4] = VERSION;
  header[5] = Math.log2(chunkSectors);
  header.writeBigUInt64BE(BigInt(sectorCount), 8);
  const body = Buffer.concat([header, ...roots]);
  return Buffer.concat([body, digest(body)]);
}

/** The roots in `file`, or why they cannot be used for a volume of `sectorCount` sectors in chunks of `chunkSectors`. */
export function decodeChunkRoots(file: Buffer, sectorCount: number, chunkSectors: number): Buffer[] | { unusable: string } {
  const chunks = Math.floor(sectorCount / chunkSectors);
  if (file.length !== fileBytes(sectorCount, chunkSectors) || !file.subarray(0, 4).equals(MAGIC)) return { unusable: NOT_OURS };
  const body = file.subarray(0, file.length - DIGEST_BYTES);
  if (!digest(body).equals(file.subarray(body.length))) return { unusable: 'damaged (its digest differs)' };
  if (file[4] !== VERSION || 2 ** file[5]! !== chunkSectors || file.readBigUInt64BE(8) !== BigInt(sectorCount)) return { unusable: 'of another version or volume geometry' };
  return Array.from({ length: chunks }, (_, i) => Buffer.from(body.subarray(HEADER_BYTES + 32 * i, HEADER_BYTES + 32 * (i + 1))));
}

/**
 * Reads the volume's chunk roots and removes the file (durably): null when there is none, or
 * none usable (`unusable` says why, for the log).
 */
export async function takeChunkRoots(dir: string, sectorCount: number, chunkSectors: number, unusable: (why: string) => void): Promise<Buffer[] | null> {
  const where = path.join(dir, ROOTS_FILE);
  let size: number;
  try {
    size = (await stat(where)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  // (Its size is known: a file of another is not read, however large someone made it.)
  const file = size === fileBytes(sectorCount, chunkSectors) ? await readFile(where) : null;
  await removeDurably(dir, ROOTS_FILE);
  const roots = file ? decodeChunkRoots(file, sectorCount, chunkSectors) : { unusable: NOT_OURS };
  if ('unusable' in roots) {
    unusable(roots.unusable);
    return null;
  }
  return roots;
}

/** Writes the roots of a clean close (durably: the next open may rely on them). */
export function saveChunkRoots(dir: string, sectorCount: number, chunkSectors: number, roots: readonly Buffer[]): Promise<void> {
  return writeDurably(dir, ROOTS_FILE, encodeChunkRoots(sectorCount, chunkSectors, roots));
}
