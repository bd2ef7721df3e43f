// A volume state record on the data plane (docs/service.md, "Volume state records"): the adapter
// records with the service the Merkle root over its volume's tags when it opens the volume and
// when it closes it cleanly; at an open, the service refuses a root that is not the one the
// volume was closed with. When a part of the tags the adapter checks only after the open (a chunk
// of a large volume, against the root it was opened with) is found altered, it records that too. Its answer is binary and sealed under the session (authenticated), so
// that no one between the two can answer "as closed" in the service's place:
//
//   request = Merkle root (32)
//   answer  = continuity u8 ‖ Merkle root (32)          the root the service recorded

import type { BodySeals } from './block-session.js';

/** The request's root is encrypted, as every body that is not a block operation's; the answer authenticated. */
export const VOLUME_STATE_SEALS: BodySeals = { request: 'encrypted', answer: 'authenticated' };

/**
 * When the adapter records the root: after opening the volume (journal replayed), at a clean
 * close, or when tags it had not read at the open are found not to be those of the root it opened
 * with (the body is that root): the open is then refused after the fact.
 */
export const VOLUME_STATE_MOMENTS = ['opened', 'closed', 'altered'] as const;
export type VolumeStateMoment = (typeof VOLUME_STATE_MOMENTS)[number];

/**
 * What the service found, by code (index + 1):
 *   first              no state recorded for the volume yet: this one is its baseline
 *   as-closed          the root is the one the volume was last closed with
 *   after-unclean-end  the volume was not closed cleanly when last served (its tags moved on since
 *                      the record): not checked; this open is the new baseline
 *   recorded           a clean close's state, kept for the next open
 *   altered            tags found altered after an open: the record is back at the clean close
 *                      that open matched, and the volume is refused (audited) as an open would be
 */
export const CONTINUITIES = ['first', 'as-closed', 'after-unclean-end', 'recorded', 'altered'] as const;
export type Continuity = (typeof CONTINUITIES)[number];

export const VOLUME_STATE_ANSWER_BYTES = 33;

export interface VolumeStateAnswer {
  continuity: Continuity;
  merkleRoot: Buffer;
}

export function encodeVolumeStateAnswer(a: VolumeStateAnswer): Buffer {
  if (a.merkleRoot.length !== 32) throw new RangeError('a Merkle root is 32 bytes');
  const out = Buffer.alloc(VOLUME_STATE_ANSWER_BYTES);
  out[0] = CONTINUITIES.indexOf(a.continuity) + 1;
  a.merkleRoot.copy(out, 1);
  return out;
}

export function decodeVolumeStateAnswer(b: Uint8Array): VolumeStateAnswer {
  const continuity = b.length === VOLUME_STATE_ANSWER_BYTES ? CONTINUITIES[b[0]! - 1] : undefined;
  if (!continuity) throw new RangeError('not a volume state answer');
  return { continuity, merkleRoot: Buffer.from(b.subarray(1, 33)) };
}
