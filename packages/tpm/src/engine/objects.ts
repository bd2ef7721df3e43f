// Object slots (Part 1 §27 "Object storage"): loaded transient objects (0x80xxxxxx) and
// persistent objects (0x81xxxxxx). An object's sensitive area stays inside this module's
// records; commands reach key material only through the engine's key helpers.

import { TPM_RC, TRANSIENT_FIRST } from '../wire/constants.js';
import { MAX_LOADED_OBJECTS } from '../wire/limits.js';
import type { TPMT_PUBLIC, TPMT_SENSITIVE } from '../wire/types/index.js';
import type { HashSequence, HmacSequence } from '../crypto/hash.js';
import { fail } from './command.js';
import { ownAll } from './owned-bytes.js';
import { HandleJournal } from './handle-journal.js';

export const MAX_PERSISTENT_OBJECTS = 64;

export interface TpmObject {
  public: TPMT_PUBLIC;
  /** The marshaled TPMT_PUBLIC, as hashed into the Name. */
  publicArea: Buffer;
  name: Buffer;
  /** The sensitive area (null for a public-only object loaded with LoadExternal). */
  sensitive: TPMT_SENSITIVE | null;
  authValue: Buffer;
  /** The hierarchy the object belongs to (TPM_RH_OWNER, _ENDORSEMENT, _PLATFORM or _NULL). */
  hierarchy: number;
  /** Part 1 §16.6 Qualified Name: H(parent's QN || Name). */
  qualifiedName: Buffer;
  /** A primary object, created from a hierarchy seed. */
  isPrimary: boolean;
  /** Loaded through LoadExternal: it has no parent and may not be made persistent. */
  isExternal: boolean;
  /** Set for a hash, HMAC or event sequence object (Part 3 §17): its running digests instead of a key. */
  sequence?: SequenceState;
}

/** A sequence object's state (reference HASH_OBJECT): type and nameAlg are TPM_ALG_NULL in its public area. */
export interface SequenceState {
  readonly kind: 'hash' | 'hmac' | 'event';
  /** One running digest; an event sequence has one per PCR bank. */
  readonly digests: ReadonlyArray<HashSequence | HmacSequence>;
  /** Hash sequences: whether the first data block has been seen, and whether it allows a ticket. */
  firstBlock: boolean;
  ticketSafe: boolean;
}

export class ObjectSlots {
  private readonly transient = new Map<number, TpmObject>();
  readonly persistent = new Map<number, TpmObject>();

  /** `journal` records transient handles as they come and go (resource-manager contexts). */
  constructor(private readonly journal = new HandleJournal()) {}

  has(h: number): boolean {
    return this.transient.has(h) || this.persistent.has(h);
  }

  get(h: number): TpmObject {
    const o = this.transient.get(h) ?? this.persistent.get(h);
    if (!o) fail(TPM_RC.HANDLE);
    return o;
  }

  /** Load an object into a free transient slot and return its handle. */
  load(obj: TpmObject): number {
    if (this.transient.size >= MAX_LOADED_OBJECTS) fail(TPM_RC.OBJECT_MEMORY);
    // The lowest free slot, as the reference TPM does: handles stay inside TPMI_DH_OBJECT's range.
    let h = TRANSIENT_FIRST;
    while (this.transient.has(h)) h++;
    this.transient.set(h, obj);
    this.journal.added.push(h);
    return h;
  }

  /** Re-insert an object at the handle it had (ContextLoad of a saved object). */
  loadAt(h: number, obj: TpmObject): void {
    if (this.transient.size >= MAX_LOADED_OBJECTS) fail(TPM_RC.OBJECT_MEMORY);
    this.transient.set(h, obj);
    this.journal.added.push(h);
  }

  flush(h: number): void {
    if (!this.transient.delete(h)) fail(TPM_RC.HANDLE);
    this.journal.removed.push(h);
  }

  makePersistent(h: number, obj: TpmObject): void {
    if (this.persistent.has(h)) fail(TPM_RC.NV_DEFINED);
    if (this.persistent.size >= MAX_PERSISTENT_OBJECTS) fail(TPM_RC.NV_SPACE);
    this.persistent.set(h, ownAll(obj));
  }

  evict(h: number): void {
    this.persistent.delete(h);
  }

  transientHandles(): number[] {
    return [...this.transient.keys()].sort((a, b) => a - b);
  }
  persistentHandles(): number[] {
    return [...this.persistent.keys()].sort((a, b) => a - b);
  }

  /** Flush every transient object (TPM reset/restart, Startup, or a hierarchy being cleared). */
  flushTransient(predicate: (o: TpmObject) => boolean = () => true): void {
    for (const [h, o] of this.transient) {
      if (!predicate(o)) continue;
      this.transient.delete(h);
      this.journal.removed.push(h);
    }
  }
}
