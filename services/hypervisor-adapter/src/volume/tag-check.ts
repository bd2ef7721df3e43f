// A volume's check of its tags after an open from saved chunk roots (tag-chunks.ts): the chunks a
// request reaches are checked before it runs, and all of them on a worker thread from the open
// until done; a chunk found altered at rest is dealt with once — the volume stops (EIO from then
// on, and no clean close's record: the files are not those it was closed with), the keys' holder
// records it as 'altered' with the root the volume was opened with (the open refused after the
// fact), and the onStopped listeners hear why.

import type { Logger } from '../logger.js';
import type { VolumeError } from './block-volume.js';
import { TagsAlteredError, type TagChunks } from './tag-chunks.js';

export interface TagCheckParts {
  chunks: TagChunks;
  uuid: string;
  sectorSize: number;
  log: Logger;
  /** Records the alteration with the keys' holder, where it keeps volume state records. */
  recordAltered: (() => Promise<unknown>) | null;
  /** Stops the volume with `reason`; the error its requests fail with from then on. */
  stopVolume: (reason: string) => VolumeError;
}

export class TagCheck {
  readonly #o: TagCheckParts;
  readonly #background = new AbortController();
  /** The background check, when one runs; it never rejects. */
  #done: Promise<void> = Promise.resolve();
  /** The 'altered' record, once sent; it never rejects. */
  #recorded: Promise<void> = Promise.resolve();
  #found: VolumeError | null = null;
  readonly #listeners: Array<(reason: string) => void> = [];

  /** Starts the background check if the open left chunks unchecked. */
  constructor(parts: TagCheckParts) {
    this.#o = parts;
    const { chunks, uuid, log } = parts;
    const count = chunks.unchecked;
    if (count === 0) return;
    this.#done = chunks.checkAll(this.#background.signal).then(
      () => log.info({ uuid, chunks: count }, "every chunk of the volume's tags checked against the roots it was opened with"),
      (error: unknown) => {
        if (error instanceof TagsAlteredError) this.#altered(error);
        else if (!this.#background.signal.aborted) log.warn({ uuid, err: error }, "the background check of the volume's tags stopped; each chunk is still checked when a request first reaches it");
      },
    );
  }

  onStopped(listener: (reason: string) => void): void {
    this.#listeners.push(listener);
  }

  /** Checks the unchecked chunks bytes [offset, offset + length) fall in; rejects with the volume's error if one was altered. */
  async before(offset: number, length: number): Promise<void> {
    const first = Math.floor(offset / this.#o.sectorSize);
    try {
      await this.#o.chunks.check(first, Math.ceil((offset + length) / this.#o.sectorSize) - first);
    } catch (error) {
      throw error instanceof TagsAlteredError ? this.#altered(error) : error;
    }
  }

  /** Ends the background check (the volume stopped or closes). */
  stop(): void {
    this.#background.abort();
  }

  /** Once the background check and the 'altered' record, if any, are over. */
  async settled(): Promise<void> {
    await this.#done;
    await this.#recorded;
  }

  #altered(error: TagsAlteredError): VolumeError {
    if (this.#found) return this.#found;
    const { uuid, log, recordAltered, stopVolume } = this.#o;
    this.#found = stopVolume(error.message);
    this.stop();
    log.error({ uuid, chunk: error.chunk, reason: error.message }, 'volume tags altered at rest: the volume stopped');
    if (recordAltered) {
      this.#recorded = recordAltered().then(
        () => log.info({ uuid }, "the alteration recorded with the keys' holder: the volume is refused until its officer forgets the record"),
        (err: unknown) => log.error({ uuid, err }, "the alteration could not be recorded with the keys' holder"),
      );
    }
    for (const listener of this.#listeners) listener(error.message);
    return this.#found;
  }
}
