// Volume key routes. Tenant plane: the officer imports the tenant's own key for a volume. Data
// plane (permission block.crypt, hypervisor adapters only): open a block session on a volume of
// a VM started on the caller's host, run batches of sector operations in it (binary bodies,
// layouts in block-ops.ts) one request each or as frames on its block stream (block-stream.ts),
// ask for a signed volume attestation, record the volume's state at its open and clean close
// (volume-state.ts), close it. Tenant plane: the officer forgets a volume's recorded state.

import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { route } from '../../http/route.js';
import { BLOCK_OPS } from './block-ops.js';
import { MAX_BATCH_BYTES, runSealedBatch } from './block-batch.js';
import { serveBlockStream } from './block-stream.js';
import { openSession, requireBlockDeps, type BlockDeps } from './release.js';
import { importVolumeKey } from './volume-import.js';
import { WRAPPING_ALGORITHMS } from '../keys/import-jobs.js';
import { requireSealed, sessionAuthenticator, sessionBeforeBody, sessionOf } from './session-auth.js';
import {
  ANSWER_TAG_HEADER,
  BLOCK_STREAM_PROTOCOL,
  encodeVolumeStateAnswer,
  MAX_VOLUME_STATE_REQUEST_BYTES,
  sealBody,
  VOLUME_STATE_MOMENTS,
  VOLUME_STATE_SEALS,
} from '@sealkeep/crypto';
import { attestVolume, type VolumeAttestationDeps } from './volume-attestation.js';
import { forgetVolumeState, recordVolumeState } from './volume-state.js';
import { binaryBodies } from '../../http/binary-body.js';

/** Tags of a volume for one attestation: 2^21 sectors (8 GiB of 4 KiB sectors). */
export const MAX_ATTESTED_TAGS = 2 ** 21;

const SessionParams = z.object({ sessionId: z.string().regex(/^[A-Za-z0-9_-]{22}$/) });
const Lba = z.object({ lba: z.string().regex(/^(?:0|[1-9][0-9]{0,19})$/, 'a sector number') });
const Bytes = z.custom<Buffer>((v) => Buffer.isBuffer(v), 'an application/octet-stream body');

/** The block route: a block stream's frames are logged and counted as requests of it. */
const BLOCKS_PATH = '/v1/block-sessions/:sessionId/blocks/:op';

/** Each block answer's seal, until its header is written (responseHeaders below). */
const answerTags = new WeakMap<Buffer, Buffer>();

export function blockRoutes(store: Store, deps: BlockDeps, attestation: VolumeAttestationDeps | undefined) {
  const authenticate = sessionAuthenticator(() => deps.sessions);
  const beforeBody = sessionBeforeBody(() => deps.sessions);
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
      path: BLOCKS_PATH,
      plane: 'data',
      permission: 'block.crypt',
      summary: 'One batch of whole sectors from `lba`: encrypt, encrypt-sign, sign, verify, decrypt or verify-decrypt, sealed both ways under the session key (binary layouts in docs/service.md#block-operations)',
      params: SessionParams.extend({ op: z.enum(BLOCK_OPS) }),
      query: Lba,
      body: Bytes,
      bodyType: 'binary',
      maxBody: MAX_BATCH_BYTES,
      beforeBody,
      authenticate,
      admit: false,
      responseHeaders: (data: Buffer) => ({ [ANSWER_TAG_HEADER]: answerTags.get(data)!.toString('base64url') }),
      handler: async ({ params, query, body, principal, requestId, signed, afterSend }) => {
        const seal = requireSealed(signed);
        const s = await sessionOf(deps.sessions, params.sessionId, principal);
        const answer = await runSealedBatch(deps.sessions!, s, params.op, BigInt(query.lba), body, seal, requestId);
        // The answer's memory came back from the worker and is this batch's alone: the pool reuses it once sent.
        afterSend(() => binaryBodies.give(answer.data.buffer as ArrayBuffer));
        answerTags.set(answer.data, answer.tag);
        return answer.data;
      },
    }),
    route({
      method: 'get',
      path: '/v1/block-sessions/:sessionId/stream',
      plane: 'data',
      permission: 'block.crypt',
      summary: `The session's block stream: the connection upgraded to ${BLOCK_STREAM_PROTOCOL}, carrying the same sealed block operations as binary frames, pipelined (docs/service.md#the-block-stream)`,
      params: SessionParams,
      upgrade: BLOCK_STREAM_PROTOCOL,
      authenticate,
      admit: false,
      handler: async ({ params, principal, requestId, switchProtocols }) => {
        const s = await sessionOf(deps.sessions, params.sessionId, principal);
        serveBlockStream(switchProtocols!(), deps.sessions!, s, requestId, BLOCKS_PATH);
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
      beforeBody,
      authenticate,
      admit: false,
      handler: async ({ params, body, principal, requestId }) => {
        const s = await sessionOf(deps.sessions, params.sessionId, principal);
        return attestVolume(store.db, attestation, deps.sessions!.pool, s, body, requestId);
      },
    }),
    route({
      method: 'post',
      path: '/v1/block-sessions/:sessionId/volume-state',
      plane: 'data',
      permission: 'block.crypt',
      summary: "Record the volume's state: the adapter's root over its tags and generation words (the body, 32 bytes) at its open, a checkpoint of its journal or its clean close, or (moment=altered, the root it opened with) when tags checked after the open are found altered; an open's body adds the roots its journal replay passed through. At an open, a root not the one it was closed with — or after an unclean end, not one the recorded state leads to — is refused (volume-state-differs). The answer is sealed under the session (docs/service.md#volume-state-records)",
      params: SessionParams,
      query: z.object({ moment: z.enum(VOLUME_STATE_MOMENTS) }),
      body: Bytes,
      bodyType: 'binary',
      maxBody: MAX_VOLUME_STATE_REQUEST_BYTES,
      beforeBody,
      authenticate,
      admit: false,
      responseHeaders: (data: Buffer) => ({ [ANSWER_TAG_HEADER]: answerTags.get(data)!.toString('base64url') }),
      handler: async ({ params, query, body, principal, requestId, signed }) => {
        // Only under the session: its answer must be one that no one but the service could seal.
        const seal = requireSealed(signed);
        const s = await sessionOf(deps.sessions, params.sessionId, principal);
        const answer = encodeVolumeStateAnswer(await recordVolumeState(store.db, s, query.moment, body, requestId));
        answerTags.set(answer, sealBody(s.key, seal.seq, 'answer', VOLUME_STATE_SEALS.answer, seal.method, seal.url, [answer]));
        return answer;
      },
    }),
    route({
      method: 'delete',
      path: '/v1/tenants/:tenantId/vms/:vmId/volumes/:volumeId/state',
      plane: 'tenant',
      permission: 'policy.write',
      summary: "Forget the volume's recorded state (after restoring it from a backup): its next open is taken as its new baseline",
      params: z.object({ tenantId: z.uuid(), vmId: z.uuid(), volumeId: z.uuid() }),
      handler: ({ params, actor }) => forgetVolumeState(store.db, actor!, params.tenantId, params.vmId, params.volumeId),
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
