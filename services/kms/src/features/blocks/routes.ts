// Volume key routes. Tenant plane: the officer imports the tenant's own key for a volume. Data
// plane (permission block.crypt, hypervisor adapters only): open a block session on a volume of
// a VM started on the caller's host, run batches of sector operations in it (binary bodies,
// layouts in block-ops.ts), ask for a signed volume attestation, close it.

import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { route } from '../../http/route.js';
import { Problem } from '../../http/problems.js';
import { BLOCK_OPS, requestBytesPerSector, type BlockOp } from './block-ops.js';
import { openSession, requireBlockDeps, type BlockDeps } from './release.js';
import { importVolumeKey } from './volume-import.js';
import { WRAPPING_ALGORITHMS } from '../keys/import-jobs.js';
import { sealHolds, requireSealed, sessionAuthenticator, sessionOf, spendSeq } from './session-auth.js';
import { ANSWER_TAG_HEADER } from '@sealkeep/crypto';
import { attestVolume, type VolumeAttestationDeps } from './volume-attestation.js';
import { binaryBodies } from '../../http/binary-body.js';

/** The largest batch: 16 MiB of sectors, with a generation and a tag for each (up to 32 Ki 512-byte sectors). */
export const MAX_BATCH_SECTOR_BYTES = 16 * 1024 * 1024;
export const MAX_BATCH_BYTES = MAX_BATCH_SECTOR_BYTES + (MAX_BATCH_SECTOR_BYTES / 512) * (8 + 32);
/** Tags of a volume for one attestation: 2^21 sectors (8 GiB of 4 KiB sectors). */
export const MAX_ATTESTED_TAGS = 2 ** 21;

const SessionParams = z.object({ sessionId: z.string().regex(/^[A-Za-z0-9_-]{22}$/) });
const Lba = z.object({ lba: z.string().regex(/^(?:0|[1-9][0-9]{0,19})$/, 'a sector number') });
const Bytes = z.custom<Buffer>((v) => Buffer.isBuffer(v), 'an application/octet-stream body');

/** Each block answer's seal, until its header is written (responseHeaders below). */
const answerTags = new WeakMap<Buffer, Buffer>();

export function blockRoutes(store: Store, deps: BlockDeps, attestation: VolumeAttestationDeps | undefined) {
  const authenticate = sessionAuthenticator(() => deps.sessions);
  return [
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/vms/:vmId/volumes/:volumeId/key',
      plane: 'tenant',
      permission: 'key.import',
      summary: "Import the tenant's own key for a volume (an import job of type volume-key): wrapped under the VM's release key and sealed to its policy's vPCRs",
      params: z.object({ tenantId: z.uuid(), vmId: z.uuid(), volumeId: z.uuid() }),
      body: z.strictObject({ importToken: z.string().min(16).max(128), wrappingAlgorithm: z.enum(WRAPPING_ALGORITHMS), wrappedKey: z.base64().max(8192) }),
      status: 201,
      handler: ({ params, body, actor }) => importVolumeKey(requireBlockDeps(deps), store.db, actor!, params.tenantId, params.vmId, params.volumeId, body),
    }),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/vms/:vmId/volumes/:volumeId/sessions',
      plane: 'data',
      permission: 'block.crypt',
      summary: 'Open a block session: the volume key is released to it when host, VM, policy and key conditions hold (release-refused names the one that failed)',
      params: z.object({ tenantId: z.uuid(), vmId: z.uuid(), volumeId: z.uuid() }),
      body: z.strictObject({ ecdhPublicKey: z.string().regex(/^[A-Za-z0-9_-]{87}$/, 'an uncompressed P-256 point, base64url') }),
      status: 201,
      handler: ({ params, body, principal, actor }) => openSession(store.db, deps, principal!, actor!, params.tenantId, params.vmId, params.volumeId, Buffer.from(body.ecdhPublicKey, 'base64url')),
    }),
    route({
      method: 'post',
      path: '/v1/block-sessions/:sessionId/blocks/:op',
      plane: 'data',
      permission: 'block.crypt',
      summary: 'One batch of whole sectors from `lba`: encrypt, encrypt-sign, sign, verify, decrypt or verify-decrypt, sealed both ways under the session key (binary layouts in docs/service.md#block-operations)',
      params: SessionParams.extend({ op: z.enum(BLOCK_OPS) }),
      query: Lba,
      body: Bytes,
      bodyType: 'binary',
      maxBody: MAX_BATCH_BYTES,
      authenticate,
      admit: false,
      responseHeaders: (data: Buffer) => ({ [ANSWER_TAG_HEADER]: answerTags.get(data)!.toString('base64url') }),
      handler: async ({ params, query, body, principal, requestId, signed, afterSend }) => {
        const seal = requireSealed(signed);
        const s = await sessionOf(deps.sessions, params.sessionId, principal);
        const op: BlockOp = params.op;
        // A refusal says something of the volume (its size, its integrity class): only to the session's holder.
        const refuse = (p: Problem): never => {
          spendSeq(s, seal, sealHolds(s, seal, body));
          throw p;
        };
        const per = requestBytesPerSector(op, s.sectorSize);
        if (body.length === 0 || body.length % per !== 0) refuse(new Problem('validation-failed', `${op} takes whole sectors: a multiple of ${per} bytes`));
        const count = body.length / per;
        if (count * s.sectorSize > MAX_BATCH_SECTOR_BYTES) refuse(new Problem('payload-too-large', `a batch holds at most ${MAX_BATCH_SECTOR_BYTES} bytes of sectors`));
        const lba = BigInt(query.lba);
        if (lba + BigInt(count) > s.sectors) refuse(new Problem('validation-failed', `sectors ${lba}…${lba + BigInt(count) - 1n} pass the end of the volume (${s.sectors} sectors)`));
        if (s.integrity === 'high' && (op === 'encrypt' || op === 'decrypt')) {
          refuse(new Problem('operation-not-supported', `the volume's integrity is high: every sector is signed and verified (use ${op === 'encrypt' ? 'encrypt-sign' : 'verify-decrypt'})`));
        }
        const sessions = deps.sessions!;
        const r = await sessions.pool.run(s.id, op, lba, body, seal).catch((e: unknown) => {
          if (sessions.get(s.id) !== s) throw new Problem('session-ended', 'the block session ended while the batch waited', { reason: sessions.endedBecause(s.id) });
          throw e;
        });
        // The session may have ended while the batch ran (a key disabled meanwhile): its output is not answered.
        if (sessions.get(s.id) !== s) throw new Problem('session-ended', 'the block session ended while the batch ran', { reason: sessions.endedBecause(s.id) });
        spendSeq(s, seal, r.sealOk);
        sessions.record(s, op, lba, count, count * s.sectorSize, requestId, r.ok ? [] : r.failedLbas);
        if (!r.ok) throw new Problem('integrity-check-failed', `sector${r.failedLbas.length > 1 ? 's' : ''} ${r.failedLbas.join(', ')} failed the integrity check`, { lbas: r.failedLbas.map(String) });
        // The answer's memory came back from the worker and is this batch's alone: the pool reuses it once sent.
        afterSend(() => binaryBodies.give(r.data.buffer as ArrayBuffer));
        answerTags.set(r.data, r.tag);
        return r.data;
      },
    }),
    route({
      method: 'post',
      path: '/v1/block-sessions/:sessionId/attestation',
      plane: 'data',
      permission: 'block.crypt',
      summary: "A volume attestation: the Merkle root over the volume's tags (the body, in LBA order), signed by the service TPM's attestation key, verifiable offline",
      params: SessionParams,
      body: Bytes,
      bodyType: 'binary',
      maxBody: MAX_ATTESTED_TAGS * 32,
      authenticate,
      admit: false,
      handler: async ({ params, body, principal, requestId }) => {
        const s = await sessionOf(deps.sessions, params.sessionId, principal);
        return attestVolume(store.db, attestation, deps.sessions!.pool, s, body, requestId);
      },
    }),
    route({
      method: 'delete',
      path: '/v1/block-sessions/:sessionId',
      plane: 'data',
      permission: 'block.crypt',
      summary: 'Close a block session: its key leaves memory, its last block requests are audited',
      params: SessionParams,
      authenticate,
      admit: false,
      handler: async ({ params, principal }) => {
        const s = await sessionOf(deps.sessions, params.sessionId, principal);
        await deps.sessions!.end(s.id, 'closed');
        return { sessionId: s.id, closed: true };
      },
    }),
  ];
}
