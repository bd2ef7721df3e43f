// One sealed batch of a block session, as the block route and the block stream both run it: the
// request checked against the session (whole sectors, within the volume, an op its integrity
// class allows), run on a block worker (which opens the seal before it touches a sector, and
// seals the answer), its sequence number spent, the request counted toward the session's audit.
// A refusal throws a Problem, after spending the seq only if the seal held (a refusal says
// something of the volume — its size, its integrity class — so only to the session's holder).

import { Problem } from '../../http/problems.js';
import { requestBytesPerSector, type BlockOp } from './block-ops.js';
import type { BlockSession, BlockSessions } from './block-sessions.js';
import { sealHolds, spendSeq, type PendingSeal } from './session-auth.js';

/** The largest batch: 16 MiB of sectors, with a generation and a tag for each (up to 32 Ki 512-byte sectors). */
export const MAX_BATCH_SECTOR_BYTES = 16 * 1024 * 1024;
export const MAX_BATCH_BYTES = MAX_BATCH_SECTOR_BYTES + (MAX_BATCH_SECTOR_BYTES / 512) * (8 + 32);

/** A batch's answer, sealed, in memory the body pool lent (give it back once sent), and the seal's tag. */
export interface SealedAnswer {
  data: Buffer;
  tag: Buffer;
}

export async function runSealedBatch(sessions: BlockSessions, s: BlockSession, op: BlockOp, lba: bigint, body: Buffer, seal: PendingSeal, requestId: string): Promise<SealedAnswer> {
  const refuse = (p: Problem): never => {
    spendSeq(s, seal, sealHolds(s, op, seal, body));
    throw p;
  };
  const per = requestBytesPerSector(op, s.sectorSize);
  if (body.length === 0 || body.length % per !== 0) refuse(new Problem('validation-failed', `${op} takes whole sectors: a multiple of ${per} bytes`));
  const count = body.length / per;
  if (count * s.sectorSize > MAX_BATCH_SECTOR_BYTES) refuse(new Problem('payload-too-large', `a batch holds at most ${MAX_BATCH_SECTOR_BYTES} bytes of sectors`));
  if (lba + BigInt(count) > s.sectors) refuse(new Problem('validation-failed', `sectors ${lba}…${lba + BigInt(count) - 1n} pass the end of the volume (${s.sectors} sectors)`));
  if (s.integrity === 'high' && (op === 'encrypt' || op === 'decrypt')) {
    refuse(new Problem('operation-not-supported', `the volume's integrity is high: every sector is signed and verified (use ${op === 'encrypt' ? 'encrypt-sign' : 'verify-decrypt'})`));
  }
  const r = await sessions.pool.run(s.id, op, lba, body, seal).catch((e: unknown) => {
    if (sessions.get(s.id) !== s) throw new Problem('session-ended', 'the block session ended while the batch waited', { reason: sessions.endedBecause(s.id) });
    throw e;
  });
  // The session may have ended while the batch ran (a key disabled meanwhile): its output is not answered.
  if (sessions.get(s.id) !== s) throw new Problem('session-ended', 'the block session ended while the batch ran', { reason: sessions.endedBecause(s.id) });
  spendSeq(s, seal, r.sealOk);
  sessions.record(s, op, lba, count, count * s.sectorSize, requestId, r.ok ? [] : r.failedLbas);
  if (!r.ok) throw new Problem('integrity-check-failed', `sector${r.failedLbas.length > 1 ? 's' : ''} ${r.failedLbas.join(', ')} failed the integrity check`, { lbas: r.failedLbas.map(String) });
  return { data: r.data, tag: r.tag };
}
