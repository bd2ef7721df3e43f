// The exports an NBD server offers: one per attached volume, by name. Attaching and detaching
// while the server runs is allowed; a connection already in transmission keeps the volume it
// chose until it disconnects.

import type { BlockVolume } from '../volume/block-volume.js';
import { NBD_MAX_STRING_BYTES } from './nbd-constants.js';

export class ExportRegistry {
  readonly #volumes = new Map<string, BlockVolume>();

  attach(name: string, volume: BlockVolume): void {
    if (Buffer.byteLength(name) > NBD_MAX_STRING_BYTES || name.includes('\0')) {
      throw new Error(`export name ${JSON.stringify(name)}: at most ${NBD_MAX_STRING_BYTES} bytes of UTF-8, no NUL`);
    }
    if (this.#volumes.has(name)) throw new Error(`export ${JSON.stringify(name)} is already attached`);
    this.#volumes.set(name, volume);
  }

  /** The volume detached, or undefined if no export had that name. */
  detach(name: string): BlockVolume | undefined {
    const volume = this.#volumes.get(name);
    this.#volumes.delete(name);
    return volume;
  }

  get(name: string): BlockVolume | undefined {
    return this.#volumes.get(name);
  }

  names(): string[] {
    return [...this.#volumes.keys()];
  }
}
