// Reading a file region whole: the kernel may return fewer bytes than asked, so a read goes on
// until the region is read or the file ends (SectorFiles, the journal's replay, the workers that
// hash a tag file).

import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** Reads up to `length` bytes at `position`; shorter only at the end of the file. */
export async function readFully(file: FileHandle, position: number, length: number, into?: Buffer): Promise<Buffer> {
  const buffer = into ?? Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/** Synchronous pread of up to `length` bytes; shorter only at the end of the file. */
export function readFullySync(file: FileHandle, position: number, length: number, into: Buffer = Buffer.alloc(length)): Buffer {
  let filled = 0;
  while (filled < length) {
    const bytesRead = readSync(file.fd, into, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? into : into.subarray(0, filled);
}
