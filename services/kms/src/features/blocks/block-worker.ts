// One block worker thread: it holds the opened ciphers and taggers of the volumes whose sessions
// are open (their keys live only in this thread's native contexts), and each session's key, and
// runs batches for the pool (block-pool.ts): it opens a batch's sealed body where it lies (the
// session's tag checked before a sector is touched), runs the op, and seals the answer under the
// session (@sealkeep/crypto's block-session.ts: each body encrypted or only authenticated as
// BODY_SEALS says for the op). Messages: open, close, run, merkle (a volume
// attestation's root); every run and merkle is answered, errors included.

import { parentPort } from 'node:worker_threads';
import { BODY_SEALS, openBody, sealBody, selectBlockCryptoEngine, volumeIdFromUuid } from '@sealkeep/crypto';
import type { PendingSeal } from './session-auth.js';
import { runBlockOp, type BlockOp, type OpenedVolume } from './block-ops.js';

export type WorkerMessage =
  | { kind: 'open'; handle: string; volumeId: string; sectorSize: 512 | 4096; xtsKey: Uint8Array; integrityKey: Uint8Array; sessionKey: Uint8Array }
  | { kind: 'close'; handle: string }
  /** `room`: bytes of the body's ArrayBuffer after its end that the batch may write its answer into. */
  | { kind: 'run'; id: number; handle: string; op: BlockOp; lba: bigint; body: Uint8Array; room: number; seal: PendingSeal }
  | { kind: 'merkle'; id: number; tags: Uint8Array };

export type WorkerReply =
  /** `tag`: the answer's seal (the Sealkeep-Session-Tag header). */
  | { id: number; data: Uint8Array; tag: Uint8Array }
  | { id: number; failedLbas: bigint[] }
  | { id: number; sealFailed: true }
  | { id: number; root: Uint8Array }
  | { id: number; error: string };

const engine = selectBlockCryptoEngine();
const volumes = new Map<string, OpenedVolume & { sessionKey: Buffer }>();

function close(handle: string): void {
  const v = volumes.get(handle);
  if (!v) return;
  volumes.delete(handle);
  v.cipher.destroy();
  v.tagger.destroy();
  v.sessionKey.fill(0);
}

parentPort!.on('message', (m: WorkerMessage) => {
  if (m.kind === 'open') {
    close(m.handle);
    try {
      const cipher = engine.openSectorCipher({ key: m.xtsKey, sectorSize: m.sectorSize });
      const tagger = engine.openSectorTagger({ key: m.integrityKey, volumeId: volumeIdFromUuid(m.volumeId), sectorSize: m.sectorSize });
      volumes.set(m.handle, { cipher, tagger, sectorSize: m.sectorSize, sessionKey: Buffer.from(m.sessionKey) });
    } catch {
      // Not opened: its batches answer "not open in this worker" (an internal error), the worker lives on.
    } finally {
      m.xtsKey.fill(0);
      m.integrityKey.fill(0);
      m.sessionKey.fill(0);
    }
    return;
  }
  if (m.kind === 'close') return close(m.handle);
  if (m.kind === 'merkle') {
    try {
      return parentPort!.postMessage({ id: m.id, root: engine.merkleRoot(m.tags) } satisfies WorkerReply);
    } catch (e) {
      return parentPort!.postMessage({ id: m.id, error: (e as Error).message } satisfies WorkerReply);
    }
  }
  const volume = volumes.get(m.handle);
  if (!volume) return parentPort!.postMessage({ id: m.id, error: 'the volume is not open in this worker' } satisfies WorkerReply);
  try {
    // The request's seal first: a batch that is not the session holder's is not used.
    const { seq, method, url } = m.seal;
    const seals = BODY_SEALS[m.op];
    if (!openBody(volume.sessionKey, seq, 'request', seals.request, method, url, [m.body], m.seal.tag)) {
      return parentPort!.postMessage({ id: m.id, sealFailed: true } satisfies WorkerReply);
    }
    const r = runBlockOp(volume, m.op, m.lba, m.body, m.room);
    if (r.ok) {
      const tag = sealBody(volume.sessionKey, seq, 'answer', seals.answer, method, url, [r.data]);
      parentPort!.postMessage({ id: m.id, data: r.data, tag } satisfies WorkerReply, r.data.buffer.byteLength ? [r.data.buffer as ArrayBuffer] : []);
    }
    else parentPort!.postMessage({ id: m.id, failedLbas: r.failedLbas } satisfies WorkerReply);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message } satisfies WorkerReply);
  }
});
