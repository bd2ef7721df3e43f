// Sequence objects (Part 3 §17, reference ObjectCreateHashSequence / AllocateSequenceSlot): a
// transient object whose public area has type and nameAlg TPM_ALG_NULL and whose Name is the
// Empty Buffer (tpm2-tss computes cpHash with it); it is DA-exempt, authorized by the authValue
// given at its start, and holds running digests instead of a key. Shared by this chapter's
// sequence commands. A sequence cannot be saved with ContextSave (not implemented).

import { TPM_ALG, TPM_GENERATED_VALUE, TPM_RC, TPM_RH, TPMA_OBJECT } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import type { TPMT_PUBLIC, TPMT_SENSITIVE } from '../../wire/types/index.js';
import { fail } from '../../engine/command.js';
import type { SequenceState, TpmObject } from '../../engine/objects.js';
import type { Tpm } from '../../engine/tpm.js';

/** Load a new sequence object and return its handle. */
export function startSequence(tpm: Tpm, auth: Buffer, state: Omit<SequenceState, 'firstBlock' | 'ticketSafe'>): number {
  const pub = {
    type: TPM_ALG.NULL,
    nameAlg: TPM_ALG.NULL,
    objectAttributes: TPMA_OBJECT.noDA | TPMA_OBJECT.userWithAuth,
    authPolicy: Buffer.alloc(0),
    parameters: null,
    unique: null,
  } as unknown as TPMT_PUBLIC;
  const obj: TpmObject = {
    public: pub,
    publicArea: Buffer.alloc(0),
    name: Buffer.alloc(0),
    // As in the reference the authValue sits in a sensitive area, so authorization sees it as loaded.
    sensitive: { sensitiveType: TPM_ALG.NULL, authValue: auth, seedValue: Buffer.alloc(0), sensitive: Buffer.alloc(0) } as unknown as TPMT_SENSITIVE,
    authValue: auth,
    hierarchy: TPM_RH.NULL,
    qualifiedName: Buffer.alloc(0),
    isPrimary: false,
    isExternal: false,
    sequence: { ...state, firstBlock: false, ticketSafe: false },
  };
  return tpm.objects.load(obj);
}

/** The sequence at `handle` (handle number `n` of the command) if it is of an allowed kind; else TPM_RC_MODE. */
export function sequenceAt(tpm: Tpm, handle: number, n: number, kinds: ReadonlyArray<SequenceState['kind']>): SequenceState {
  const seq = tpm.objects.get(handle).sequence;
  if (!seq || !kinds.includes(seq.kind)) fail(rcHandle(TPM_RC.MODE, n));
  return seq;
}

/** Add data to every running digest; the first block of a hash sequence decides whether a ticket may follow. */
export function updateSequence(seq: SequenceState, data: Buffer): void {
  if (seq.kind === 'hash' && !seq.firstBlock) {
    seq.firstBlock = true;
    seq.ticketSafe = !(data.length >= 4 && data.readUInt32BE(0) === TPM_GENERATED_VALUE);
  }
  for (const d of seq.digests) d.update(data);
}
