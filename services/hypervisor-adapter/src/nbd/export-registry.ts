// The exports an NBD server offers: one per attached volume, by name. Attaching and detaching
// while the server runs is allowed; a connection already in transmission keeps the volume it
// chose until it disconnects. A name can also be refused with a reason (its VM did not start, its
// volume was stopped): a client choosing it is then told why (NBD_REP_ERR_POLICY), not that no
// such export exists; attaching a volume under the name again clears it.

import type { BlockVolume } from '../volume/block-volume.js';
import { NBD_MAX_STRING_BYTES } from './nbd-constants.js';

export class ExportRegistry {
  readonly #volumes = new Map<string, BlockVolume>();
  readonly #refused = new Map<string, string>();

  attach(name: string, volume: BlockVolume): void {
    if (Buffer.byteLength(name) > NBD_MAX_STRING_BYTES || name.includes('\0')) {
      throw new Error(`export name ${JSON.stringify(name)}: at most ${NBD_MAX_STRING_BYTES} bytes of UTF-8, no NUL`);
    }
    if (this.#volumes.has(name)) throw new Error(`export ${JSON.stringify(name)} is already attached`);
    this.#volumes.set(name, volume);
    this.#refused.delete(name);
  }

  /** Marks `name` as not served, and why: what a client that chooses it is told. */
  refuse(name: string, reason: string): void {
    if (this.#volumes.has(name)) throw new Error(`export ${JSON.stringify(name)} is attached: detach it first`);
    this.#refused.set(name, reason);
  }

  /** Why `name` is not served, if it was refused and nothing is attached under it since. */
  refusal(name: string): string | undefined {
    return this.#refused.get(name);
  }

  /** The volume detached, or undefined if no export had that name; with a reason, the name is refused with it from now on. */
  detach(name: string, reason?: string): BlockVolume | undefined {
    const volume = this.#volumes.get(name);
    this.#volumes.delete(name);
    if (reason !== undefined) this.#refused.set(name, reason);
    return volume;
  }

  get(name: string): BlockVolume | undefined {
    return this.#volumes.get(name);
  }

  names(): string[] {
    return [...this.#volumes.keys()];
  }
}
