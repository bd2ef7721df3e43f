// A volume state record on the data plane (docs/service.md, "Volume state records"): the adapter
// records with the service the state root of its volume's tags (over every sector's tag and
// generation word; the adapter's volume/chunk-state.ts) when it opens the volume, at
// each checkpoint of its journal (before the journal's round is retired) and when it closes it
// cleanly; at an open, the service refuses a root that is not the one the volume was closed with
// — or, after an unclean end, one that the last recorded state does not lead to through the
// volume's journal: the open names the roots its replay passed through (the state at the start
// of each round of the journal it replayed). When a part of the tags the adapter checks only
// after the open (a chunk of a large volume, against the root it was opened with) is found
// altered, it records that too. Its answer is binary and sealed under the session
// (authenticated), so that no one between the two can answer "as closed" in the service's place:
//
//   request = Merkle root (32) ‖ passed through: Merkle root (32) × k    (k ≤ 4; moment opened only)
//   answer  = continuity u8 ‖ Merkle root (32)          the root the service recorded

import type { BodySeals } from './block-session.js';

/** The request's root is encrypted, as every body that is not a block operation's; the answer authenticated. */
export const VOLUME_STATE_SEALS: BodySeals = { request: 'encrypted', answer: 'authenticated' };

/**
 * When the adapter records the root: after opening the volume (journal replayed), at a checkpoint
 * (a round of the journal in durable files, before the round is retired: the state the round
 * after it starts from), at a clean close, or when tags it had not read at the open are found
 * not to be those of the root it opened with (the body is the root it recorded last): the open is then refused
 * after the fact.
 */
export const VOLUME_STATE_MOMENTS = ['opened', 'checkpoint', 'closed', 'altered'] as const;
export type VolumeStateMoment = (typeof VOLUME_STATE_MOMENTS)[number];

/**
 * What the service found, by code (index + 1):
 *   first              no state recorded for the volume yet: this one is its baseline
 *   as-closed          the root is the one the volume was last closed with
 *   after-unclean-end  (records of earlier versions only) opened after an unclean end, not checked
 *   recorded           a checkpoint's or a clean close's state, kept for the next open
 *   altered            tags found altered after an open: the record is closed at the root last
 *                      recorded, and the volume is refused (audited) as an open would be
 *   resumed            the volume was not closed cleanly when last served (its adapter killed, its
 *                      key disabled), and the state last recorded (at its open or a checkpoint) is
 *                      one its journal's replay passed through: checked, the replayed writes on top
 *   earlier-root       opened while the record holds a root an earlier version recorded (over the
 *                      tags alone), which this version's state root cannot be compared with: not
 *                      checked, the open is the volume's new baseline
 */
export const CONTINUITIES = ['first', 'as-closed', 'after-unclean-end', 'recorded', 'altered', 'resumed', 'earlier-root'] as const;
export type Continuity = (typeof CONTINUITIES)[number];

/** What the service holds of a volume's state: the root last recorded, and at which moment. */
export interface RecordedVolumeState {
  status: 'served' | 'closed';
  root: Buffer;
  /** false: a root an earlier version recorded over the tags alone, which no state root can be compared with. */
  comparable: boolean;
}

/** The service's rule for a record at `moment`: the continuity it answers, or why it refuses (409 volume-state-differs, or conflict). */
export type VolumeStateJudgement = { continuity: Continuity } | { refused: 'differs' | 'conflict' };

/**
 * The rule, once for the service and for anyone who stands in for it: with no record, anything is
 * the baseline; a checkpoint of a closed record is a conflict; an open is taken as closed (the
 * same root), resumed (a served record's root the open's replay passed through), or unchecked
 * over an earlier version's root, and refused otherwise. An 'altered' report is always taken.
 */
export function judgeVolumeState(record: RecordedVolumeState | null, moment: VolumeStateMoment, root: Buffer, passedThrough: readonly Buffer[]): VolumeStateJudgement {
  if (moment === 'altered') return { continuity: 'altered' };
  if (!record) return { continuity: 'first' };
  if (moment === 'checkpoint' && record.status === 'closed') return { refused: 'conflict' };
  if (moment !== 'opened') return { continuity: 'recorded' };
  if (!record.comparable) return { continuity: 'earlier-root' };
  if (record.root.equals(root)) return { continuity: record.status === 'closed' ? 'as-closed' : 'resumed' };
  if (record.status === 'served' && passedThrough.some((r) => r.equals(record.root))) return { continuity: 'resumed' };
  return { refused: 'differs' };
}

/**
 * The record a judged moment leaves, once for the service and for anyone who stands in for it: a
 * refusal keeps the record as it was (the same root is refused again); an 'altered' report closes
 * a served record that still holds the reported root (so that no open can lead back to the files
 * as they now stand) and leaves any other as it was; every other answer records the root, closed
 * at a clean close and served otherwise.
 */
export function nextVolumeState(record: RecordedVolumeState | null, moment: VolumeStateMoment, root: Buffer, judged: VolumeStateJudgement): RecordedVolumeState | null {
  if ('refused' in judged) return record;
  if (judged.continuity === 'altered') return record?.status === 'served' && record.root.equals(root) ? { ...record, status: 'closed' } : record;
  return { status: moment === 'closed' ? 'closed' : 'served', root, comparable: true };
}

export const VOLUME_STATE_ANSWER_BYTES = 33;
/** States an open may name as passed through: the start of each of the journal's two rounds, and room to spare. */
export const MAX_PASSED_THROUGH = 4;
export const MAX_VOLUME_STATE_REQUEST_BYTES = 32 * (1 + MAX_PASSED_THROUGH);

export interface VolumeStateRequest {
  merkleRoot: Buffer;
  /** Roots of the states the open's journal replay passed through on its way to merkleRoot (moment opened). */
  passedThrough: Buffer[];
}

export function encodeVolumeStateRequest(r: VolumeStateRequest): Buffer {
  const roots = [r.merkleRoot, ...r.passedThrough];
  if (r.passedThrough.length > MAX_PASSED_THROUGH || roots.some((root) => root.length !== 32)) throw new RangeError(`a volume state request is 1 to ${1 + MAX_PASSED_THROUGH} Merkle roots of 32 bytes`);
  return Buffer.concat(roots);
}

/** The request's roots, or null if these bytes are not 1 to 1 + MAX_PASSED_THROUGH of them. */
export function decodeVolumeStateRequest(b: Uint8Array): VolumeStateRequest | null {
  if (b.length === 0 || b.length % 32 !== 0 || b.length > MAX_VOLUME_STATE_REQUEST_BYTES) return null;
  const roots = Array.from({ length: b.length / 32 }, (_, i) => Buffer.from(b.subarray(i * 32, (i + 1) * 32)));
  return { merkleRoot: roots[0]!, passedThrough: roots.slice(1) };
}

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
