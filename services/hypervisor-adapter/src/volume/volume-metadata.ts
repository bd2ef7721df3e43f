// A volume directory's description, volume.json: format, the volume's UUID (its id in every
// tag), size, sector size, and a key check (the tag of a sector no volume has, LBA and generation
// 2^64−1, all-zero ciphertext) that tells a wrong key from damaged sectors when a volume opens.
// Written last when a volume is created, through a temporary file and a rename, so a directory
// either describes a whole volume or none.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SECTOR_SIZES, type SectorSize } from '@sealkeep/crypto';
import { writeDurably } from './durable-files.js';

export const METADATA_FILE = 'volume.json';
/**
 * Two journal files whose records say how far the journal was durable and carry each sector's
 * entry before them (sector-journal.ts, journal-record.ts). A volume of an earlier format is
 * opened (its journal replayed as it was written) and made format 4, so a version that knows only
 * an earlier one refuses it instead of misreading its journal: format 1 had one journal file,
 * format 2 records without durable-through, format 3 records without the entries before.
 */
export const FORMAT = 'sealkeep-volume/4';
const EARLIER_FORMATS = ['sealkeep-volume/1', 'sealkeep-volume/2', 'sealkeep-volume/3'] as const;
const MAX_U64 = (1n << 64n) - 1n;

export interface VolumeMetadata {
  format: typeof FORMAT | (typeof EARLIER_FORMATS)[number];
  uuid: string;
  size: number;
  sectorSize: SectorSize;
  /** Hex of the key-check tag. */
  keyCheck: string;
  /** The key check's LBA, decimal, when it is not KEY_CHECK_LBA (volumes served through the data plane: "0"). */
  keyCheckLba?: string;
}

/** The key check's LBA and generation: past any volume's last sector, so no real tag can equal it. */
export const KEY_CHECK_LBA = MAX_U64;
export const KEY_CHECK_GENERATION = MAX_U64;

/** The LBA a volume's key check was computed at. */
export function keyCheckLbaOf(metadata: VolumeMetadata): bigint {
  return metadata.keyCheckLba === undefined ? KEY_CHECK_LBA : BigInt(metadata.keyCheckLba);
}

export function newVolumeIdentity(): string {
  return randomUUID();
}

export function checkGeometry(size: number, sectorSize: number): asserts sectorSize is SectorSize {
  if (!SECTOR_SIZES.includes(sectorSize as SectorSize)) throw new Error(`sector size must be 512 or 4096, not ${sectorSize}`);
  if (!Number.isSafeInteger(size) || size <= 0 || size % sectorSize !== 0) {
    throw new Error(`volume size must be a positive whole number of ${sectorSize}-byte sectors, not ${size}`);
  }
}

/** The volume's description, or null if the directory holds none. */
export async function readVolumeMetadata(dir: string): Promise<VolumeMetadata | null> {
  let text: string;
  try {
    text = await readFile(path.join(dir, METADATA_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<VolumeMetadata>;
  if (parsed.format !== FORMAT && !(EARLIER_FORMATS as readonly unknown[]).includes(parsed.format)) throw new Error(`${dir}: ${METADATA_FILE} is not of format ${FORMAT} (or ${EARLIER_FORMATS.join(', ')})`);
  if (typeof parsed.uuid !== 'string' || typeof parsed.keyCheck !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.keyCheck)) {
    throw new Error(`${dir}: ${METADATA_FILE} lacks a uuid or key check`);
  }
  if (parsed.keyCheckLba !== undefined && (typeof parsed.keyCheckLba !== 'string' || !/^(?:0|[1-9][0-9]{0,19})$/.test(parsed.keyCheckLba))) {
    throw new Error(`${dir}: ${METADATA_FILE} has a malformed keyCheckLba`);
  }
  checkGeometry(parsed.size ?? NaN, parsed.sectorSize ?? NaN);
  return parsed as VolumeMetadata;
}

/** Writes volume.json durably (durable-files.ts). */
export async function writeVolumeMetadata(dir: string, metadata: VolumeMetadata): Promise<void> {
  await writeDurably(dir, METADATA_FILE, JSON.stringify(metadata, null, 2) + '\n');
}
