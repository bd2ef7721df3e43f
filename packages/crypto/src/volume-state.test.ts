// The volume state rule, as the service and every stand-in for it apply it: what each moment is
// answered (judgeVolumeState) and what record it leaves (nextVolumeState), a moment at a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeVolumeState, nextVolumeState, type RecordedVolumeState, type VolumeStateMoment } from './volume-state.js';

const root = (n: number) => Buffer.alloc(32, n);
const served = (n: number): RecordedVolumeState => ({ status: 'served', root: root(n), comparable: true });
const closed = (n: number): RecordedVolumeState => ({ status: 'closed', root: root(n), comparable: true });

/** Judges the moment and returns the answer with the record it leaves. */
function step(record: RecordedVolumeState | null, moment: VolumeStateMoment, n: number, passedThrough: number[] = []) {
  const judged = judgeVolumeState(record, moment, root(n), passedThrough.map(root));
  return { judged, next: nextVolumeState(record, moment, root(n), judged) };
}

test('an open, checkpoints and a clean close move the record on; the next open must show the closed root', () => {
  let { judged, next } = step(null, 'opened', 1);
  assert.deepEqual(judged, { continuity: 'first' });
  assert.deepEqual(next, served(1));
  ({ judged, next } = step(next, 'checkpoint', 2));
  assert.deepEqual([judged, next], [{ continuity: 'recorded' }, served(2)]);
  ({ judged, next } = step(next, 'closed', 3));
  assert.deepEqual([judged, next], [{ continuity: 'recorded' }, closed(3)]);
  assert.deepEqual(step(next, 'opened', 3), { judged: { continuity: 'as-closed' }, next: served(3) });
  assert.deepEqual(step(next, 'checkpoint', 4), { judged: { refused: 'conflict' }, next: closed(3) }, 'a closed record takes no checkpoint');
});

test('a refused open leaves the record as it was, so the same files are refused again', () => {
  for (const record of [closed(1), served(1)]) {
    const { judged, next } = step(record, 'opened', 9, [8]);
    assert.deepEqual(judged, { refused: 'differs' });
    assert.equal(next, record);
  }
});

test('after an unclean end, an open whose replay passed through the served root resumes from it', () => {
  assert.deepEqual(step(served(1), 'opened', 5, [2, 1]), { judged: { continuity: 'resumed' }, next: served(5) });
  assert.deepEqual(step(closed(1), 'opened', 5, [1]).judged, { refused: 'differs' }, 'a clean close promised no journal to replay');
});

test("an 'altered' report closes a served record at the root reported, and leaves any other record as it was", () => {
  assert.deepEqual(step(served(4), 'altered', 4), { judged: { continuity: 'altered' }, next: closed(4) });
  for (const record of [served(5), closed(4), null]) {
    const { judged, next } = step(record, 'altered', 4);
    assert.deepEqual(judged, { continuity: 'altered' });
    assert.equal(next, record);
  }
});

test("an earlier version's record is taken unchecked once, and compared from then on", () => {
  const earlier: RecordedVolumeState = { status: 'closed', root: root(1), comparable: false };
  const { judged, next } = step(earlier, 'opened', 7);
  assert.deepEqual([judged, next], [{ continuity: 'earlier-root' }, served(7)]);
});
