// Opening (or creating) an encrypted file-backed volume: read or write volume.json, make the
// volume's SectorCrypto, prove the key is the volume's (key check), open the files and replay the
// journal, so that what a crash left behind is whole again before the first request; then, when
// the crypto keeps volume state records (through the data plane), record the state root of the tags —
// composed from the chunk roots the last clean close saved (tags.roots) where there are some, so
// that a large volume opens without reading its whole tag file; its chunks are then checked
// against those roots when first reached, and all of them in the background. After an unclean
// end the open also shows the roots of the states its replay passed through (the start of each
// round), one of which must be the state last recorded; only then is the journal retired.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { volumeIdFromUuid, type Continuity, type SectorSize } from '@sealkeep/crypto';
import { silentLogger, type Logger } from '../logger.js';
import { DEFAULT_LIMITS, EncryptedFileVolume, type VolumeLimits } from './encrypted-file-volume.js';
import type { SectorCrypto } from './sector-crypto.js';
import { SectorFiles } from './sector-files.js';
import { SectorJournal } from './sector-journal.js';
import { zeroesDigest } from './journal-record.js';
import { encodeEntries, followsOn, TAG_ENTRY_BYTES } from './sector-state.js';
import type { EntriesBefore } from './tag-chunks.js';
import {
  FORMAT,
  KEY_CHECK_GENERATION,
  KEY_CHECK_LBA,
  METADATA_FILE,
  checkGeometry,
  keyCheckLbaOf,
  newVolumeIdentity,
  readVolumeMetadata,
  writeVolumeMetadata,
  type VolumeMetadata,
} from './volume-metadata.js';

/** The journal's two files, used in turn (sector-journal.ts); a volume of an earlier version has the first only. */
export const JOURNAL_FILES = ['journal', 'journal.1'] as const;

export interface VolumeIdentity {
  uuid: string;
  /** The 16 bytes every tag of the volume covers. */
  volumeId: Buffer;
  sectorSize: SectorSize;
}

export interface OpenVolumeOptions {
  /** The volume's own directory: volume.json, data, tags, journal. Made if missing. */
  dir: string;
  /** Create the volume (4096-byte sectors unless told) if the directory holds none; if it does, what is given must match. */
  create?: { size: number; sectorSize?: SectorSize };
  /**
   * The volume's UUID, when it is given from outside (the service's volume id, which the data
   * plane binds into every tag): a new volume takes it, an existing one must have it.
   */
  uuid?: string;
  /** The volume's sector crypto, made once its identity is known; the volume owns it from then on. */
  crypto: (identity: VolumeIdentity) => SectorCrypto | Promise<SectorCrypto>;
  readOnly?: boolean;
  log?: Logger;
  limits?: Partial<VolumeLimits>;
}

export async function openEncryptedFileVolume(options: OpenVolumeOptions): Promise<EncryptedFileVolume> {
  const { dir, create, log = silentLogger } = options;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await readVolumeMetadata(dir);
  if (!existing && !create) throw new Error(`${dir} holds no volume (${METADATA_FILE}): give a size to create one`);
  if (existing && create && (existing.size !== create.size || (create.sectorSize ?? existing.sectorSize) !== existing.sectorSize)) {
    throw new Error(`${dir} holds a volume of ${existing.size} bytes in ${existing.sectorSize}-byte sectors, not ${create.size} in ${create.sectorSize ?? existing.sectorSize}`);
  }
  const size = existing?.size ?? create!.size;
  const sectorSize = existing?.sectorSize ?? create!.sectorSize ?? 4096;
  checkGeometry(size, sectorSize);
  if (existing && options.uuid !== undefined && existing.uuid !== options.uuid) {
    throw new Error(`${dir} holds volume ${existing.uuid}, not ${options.uuid}`);
  }
  const uuid = existing?.uuid ?? options.uuid ?? newVolumeIdentity();
  const volumeId = volumeIdFromUuid(uuid);
  const crypto = await options.crypto({ uuid, volumeId, sectorSize });

  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    // A new volume's key check goes where its crypto can compute it; an existing one's stays where it was made.
    const keyCheckLba = existing ? keyCheckLbaOf(existing) : (crypto.keyCheckLba ?? KEY_CHECK_LBA);
    const keyCheckInput = [keyCheckLba, BigUint64Array.of(KEY_CHECK_GENERATION), Buffer.alloc(sectorSize)] as const;
    let metadata: VolumeMetadata | null = existing;
    if (metadata) {
      const wrong = await crypto.verify(...keyCheckInput, Buffer.from(metadata.keyCheck, 'hex'));
      if (wrong.length > 0) throw new Error(`${dir}: the key is not this volume's (key check failed)`);
    }
    const sectorCount = size / sectorSize;
    const files = await SectorFiles.open(dir, sectorSize, sectorCount, !existing);
    opened.push(files);
    if (crypto.recordState && existing) {
      await files.adoptSavedRoots(sectorCount, (why) => log.warn({ dir, uuid, why }, 'saved chunk roots not used: every chunk of the tags is read at this open'));
    }
    const journal = await SectorJournal.open([path.join(dir, JOURNAL_FILES[0]), path.join(dir, JOURNAL_FILES[1])], volumeId, sectorSize, !existing);
    opened.push(journal);
    if (!metadata) {
      const keyCheck = (await crypto.tag(...keyCheckInput)).toString('hex');
      metadata = { format: FORMAT, uuid, size, sectorSize, keyCheck, ...(keyCheckLba === KEY_CHECK_LBA ? {} : { keyCheckLba: keyCheckLba.toString() }) };
      await writeVolumeMetadata(dir, metadata);
      log.info({ dir, uuid, size, sectorSize }, 'volume created');
    }

    // Replay: every record a crash may have left unapplied, checked against its tags (a zeroes
    // record against its authenticator; each new generation word against the one before it; the
    // entries before it against those an earlier replayed record left), into the files (each
    // record's entries before it kept, with its sequence number), then the files made durable.
    const replayed: Array<EntriesBefore & { sequence: bigint }> = [];
    const replayedEntries = new Map<number, Buffer>();
    let earlierRecords = false;
    const { records, rounds } = await journal.replay(async (record) => {
      if (record.firstLba + record.words.length > sectorCount) return false;
      if (record.kind === 'sectors') {
        const failing = await crypto.verify(BigInt(record.firstLba), record.words, record.ciphertext!, record.tags!);
        if (failing.length > 0) return false;
      }
      if (record.kind !== 'checkpoint' && record.previous) {
        if (!followsOn(record.kind, record.words, record.previous)) return false;
        const entryBefore = (i: number) => record.previous!.subarray(i * TAG_ENTRY_BYTES, (i + 1) * TAG_ENTRY_BYTES);
        if (record.words.some((_, i) => replayedEntries.get(record.firstLba + i)?.equals(entryBefore(i)) === false)) return false;
        const zeroes = record.kind === 'zeroes' ? await crypto.verify(BigInt(record.firstLba), record.words.subarray(0, 1), zeroesDigest(record, volumeId, sectorSize), record.authenticator!) : [];
        if (zeroes.length > 0) return false;
      }
      await files.apply([record]);
      if (record.previous) replayed.push({ sequence: record.sequence, firstLba: record.firstLba, previous: record.previous });
      else earlierRecords = true;
      const entries = encodeEntries(record.words, record.tags);
      record.words.forEach((_, i) => replayedEntries.set(record.firstLba + i, entries.subarray(i * TAG_ENTRY_BYTES, (i + 1) * TAG_ENTRY_BYTES)));
      return true;
    }, log);
    await files.sync();
    if (records > 0) log.info({ dir, uuid, records }, 'journal replayed after an unclean stop');

    // The state root of the tags as they now stand, recorded with the keys' holder before the journal is
    // retired: a volume rolled back at rest since its last clean close — or after an unclean end,
    // not the state last recorded with the changes of its journal on top — is refused here
    // (VolumeStateDiffersError), before any request, its journal kept.
    let openedRoot: Buffer | null = null;
    if (crypto.recordState) {
      // A clean close's saved roots vouch for no tags a replay wrote (and no crash leaves them: the open before removed them).
      if (records > 0) files.chunks.distrust();
      let root = await files.stateRoot(sectorCount);
      const passedThrough: Buffer[] = [];
      if (records > 0 && earlierRecords) log.warn({ dir, uuid }, 'the journal holds records of an earlier format, which do not say what they changed: the open shows no state its replay passed through');
      else if (records > 0) {
        // The state each replayed round began with: the tags with every later replayed change undone.
        for (const start of rounds) {
          const later = replayed.filter((r) => r.sequence > start);
          if (later.length > 0) passedThrough.push(await files.stateRootBefore(sectorCount, () => later));
        }
      }
      let continuity: Continuity | undefined;
      let refusal: unknown;
      try {
        continuity = await crypto.recordState('opened', root, passedThrough);
      } catch (error) {
        refusal = error;
      }
      // Saved roots vouch for the tags only under the record of a clean close that takes them: if the
      // holder refused the root composed from them (someone put them back after an unclean end, or
      // altered the tags since), or has no such record (a first open after the officer forgot it),
      // every chunk is read now, and tags that are not those shown are shown as they stand. (The record
      // is this open's then: tags that are not those it showed are refused.)
      if (continuity !== 'as-closed' && files.chunks.unchecked > 0) {
        files.chunks.distrust();
        const read = await files.stateRoot(sectorCount);
        if (!read.equals(root)) {
          log.warn({ dir, uuid }, 'the saved chunk roots were not those of the tags: the tags as they stand are shown');
          root = read;
          refusal = undefined;
          continuity = await crypto.recordState('opened', root);
        }
      }
      if (refusal !== undefined) throw refusal;
      openedRoot = root;
      log.info({ dir, uuid, continuity: continuity!, uncheckedChunks: files.chunks.unchecked, ...(records > 0 ? { passedThrough: passedThrough.length } : {}) }, 'volume state recorded at open');
    }

    // Everything replayed is in durable files, and recorded: a round begun that stands alone.
    journal.switchRound(false);
    await journal.retirePrevious();
    // A volume of an earlier format is now of this one (a format-1 volume got its second journal
    // file above, the new round's records have this format's header): volume.json's durable
    // rewrite (with the directory's fsync, which makes that file's entry durable too) tells older
    // versions off.
    if (metadata.format !== FORMAT) await writeVolumeMetadata(dir, { ...metadata, format: FORMAT });

    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    return new EncryptedFileVolume({ uuid, size, sectorSize, readOnly: options.readOnly ?? false, files, journal, crypto, limits, openedRoot, log });
  } catch (error) {
    await Promise.allSettled(opened.map((file) => file.close()));
    crypto.close();
    throw error;
  }
}
