// A hypervisor adapter's block session on the data plane: the volume key is released to the
// service's memory for this session only, and the adapter sends sectors to be encrypted, tagged,
// verified and decrypted there (docs/service.md, "Block operations").
//
//   openBlockSession()   POST /v1/tenants/{t}/vms/{vm}/volumes/{vol}/sessions with an ephemeral
//                        ECDH P-256 point; the session key is HKDF(ECDH secret, session id)
//                        (deriveSessionKey); refusals are ReleaseRefusedError (its condition);
//                        with `serviceKey`, the answer's session proof must be that key's
//                        signature over this opening (else ServiceIdentityError)
//   fetchServiceKey()    GET /v1/service-key: the key to pin (trusted on first use, or checked
//                        against one given out of band) and its evidence (a quote of the
//                        service's measured launch naming it: @sealkeep/attestation's
//                        verifyServiceKeyEvidence)
//   session.<op>()       POST /v1/block-sessions/{id}/blocks/{op}?lba=N, binary, sealed both
//                        ways under the session key (block-transport.ts); runs over 4 MiB are
//                        split and sent side by side, and adjacent runs waiting for a
//                        connection are merged (block-batches.ts)
//   session.attest()     a signed Merkle root over the volume's tags
//   session.recordVolumeState()  the root of the volume's tags at its open or clean close: the
//                        service keeps it, and refuses an open whose root is not the last close's
//   session.close()      DELETE /v1/block-sessions/{id}
//
// Problems become typed errors: IntegrityError (422, the failing LBAs), SessionEndedError (410,
// why: the host's attestation lapsed, the VM restarted, the key was disabled…); an answer that
// does not open under the session key is an AnswerSealError. Inputs are sealed where they lie
// only when the answer is written over them anyway (`into` the input itself); otherwise a copy
// is sealed and the caller's bytes stay as they were. Once a session has ended every later call
// fails with the same SessionEndedError, and onEnded listeners hear it once. Generations are one
// u64 per sector, sent big-endian; tags 32 bytes per sector.

import { createECDH, type JsonWebKey, type KeyObject } from 'node:crypto';
import {
  BODY_SEALS,
  decodeVolumeStateAnswer,
  deriveSessionKey,
  encodeGenerations,
  GENERATION_BYTES,
  importPublicJwk,
  jwkThumbprint,
  OTHER_BODY_SEALS,
  sessionProofFault,
  TAG_BYTES,
  VOLUME_STATE_ANSWER_BYTES,
  encodeVolumeStateRequest,
  VOLUME_STATE_SEALS,
  type BodySeals,
  type VolumeStateAnswer,
  type VolumeStateMoment,
} from '@sealkeep/crypto';
import { SealkeepError, signedRequest, type Signer } from '../client.js';
import { BatchQueue, type Batch, type BlockOp } from './block-batches.js';
import { blockProblem, IntegrityError, problemSlug, ReleaseRefusedError, ServiceIdentityError, SessionEndedError, VolumeStateDiffersError } from './block-errors.js';
import { BlockTransport, type ProblemAnswer } from './block-transport.js';
import type { VolumeAttestation } from '@sealkeep/attestation';

export { IntegrityError, ReleaseRefusedError, ServiceIdentityError, SessionEndedError, VolumeStateDiffersError, blockProblem, type BlockOp, type VolumeStateAnswer, type VolumeStateMoment };
export type Integrity = 'low' | 'moderate' | 'high';

/** Sector bytes per request at most (the service takes 16 MiB of sectors with their generations and tags). */
export const MAX_BATCH_SECTOR_BYTES = 4 << 20;

export interface OpenBlockSessionOptions {
  /** The data plane's origin, e.g. http://127.0.0.1:7411. */
  dataUrl: string;
  /** The attested adapter (hypervisor principal), with the tenant's delegation when it acts for one. */
  signer: Signer;
  tenantId: string;
  vmId: string;
  volumeId: string;
  /** Requests in flight (one keep-alive connection each), default 8. */
  connections?: number;
  /** Per request, default 60 s. */
  timeoutMs?: number;
  /**
   * Block operations as frames on the session's block stream (default: one connection,
   * pipelined), or false: one HTTP request each, on keep-alive connections.
   */
  stream?: boolean;
  /**
   * The service's signing key (fetchServiceKey, pinned): the session's opening must be proven by
   * it. Without it the service's ECDH point is taken on trust, and someone able to alter traffic
   * while the session opens could stand in for the service.
   */
  serviceKey?: KeyObject;
}

/** What the service answers when it opens a session. */
export interface BlockSessionInfo {
  sessionId: string;
  volumeId: string;
  vmId: string;
  bootId: string;
  sectorSize: 512 | 4096;
  sectors: string;
  integrity: Integrity;
  keyVersion: number;
  expiresAt: string;
  serviceEcdhPublicKey: string;
  /** The opening, signed by the service key (a JWS; @sealkeep/crypto's sessionProofFault checks it). */
  sessionProof: string;
}

/** A volume attestation, as the service answers it and `sealkeep verify volume-attestation` reads it. */
export type { VolumeAttestation } from '@sealkeep/attestation';

export async function openBlockSession(o: OpenBlockSessionOptions): Promise<BlockSession> {
  const ecdh = createECDH('prime256v1');
  const point = ecdh.generateKeys();
  let info: BlockSessionInfo;
  try {
    info = (await signedRequest(o.dataUrl, o.signer, 'POST', `/v1/tenants/${o.tenantId}/vms/${o.vmId}/volumes/${o.volumeId}/sessions`, {
      ecdhPublicKey: point.toString('base64url'),
    })) as BlockSessionInfo;
  } catch (e) {
    if (e instanceof SealkeepError && problemSlug(e.type) === 'release-refused') throw new ReleaseRefusedError(e);
    throw e;
  }
  if (o.serviceKey) {
    const fault = sessionProofFault(info.sessionProof, o.serviceKey, { sid: info.sessionId, vol: o.volumeId, vm: o.vmId, boot: info.bootId, adapter: point.toString('base64url'), service: info.serviceEcdhPublicKey });
    if (fault) throw new ServiceIdentityError(fault);
  }
  const shared = ecdh.computeSecret(Buffer.from(info.serviceEcdhPublicKey, 'base64url'));
  const key = deriveSessionKey(shared, info.sessionId);
  shared.fill(0);
  const connections = o.connections ?? 8;
  const transport = new BlockTransport({ baseUrl: o.dataUrl, sessionId: info.sessionId, key, connections, timeoutMs: o.timeoutMs ?? 60_000, stream: o.stream ?? true });
  key.fill(0);
  return new BlockSession(info, transport, connections);
}

/** The service's signing key as the data plane publishes it (GET /v1/service-key), its thumbprint checked. */
export async function fetchServiceKey(dataUrl: string): Promise<{ kid: string; key: KeyObject; evidence: unknown }> {
  const answer = (await signedRequest(dataUrl, null, 'GET', '/v1/service-key')) as { kid?: unknown; jwk?: JsonWebKey; evidence?: unknown };
  const key = importPublicJwk(answer.jwk ?? {});
  if (answer.kid !== jwkThumbprint(answer.jwk ?? {})) throw new ServiceIdentityError("the service key's kid is not its thumbprint");
  return { kid: answer.kid as string, key, evidence: answer.evidence ?? null };
}

const view = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
/** Whether two views are the same bytes (an answer written over its own input). */
const sameBytes = (a: Uint8Array, b: Uint8Array | undefined) => b !== undefined && a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.length === b.length;

export class BlockSession {
  readonly id: string;
  readonly volumeId: string;
  readonly vmId: string;
  readonly bootId: string;
  readonly sectorSize: 512 | 4096;
  readonly sectors: bigint;
  readonly integrity: Integrity;
  readonly keyVersion: number;
  /** When the host's attestation ran out as of opening (the service extends it as the host re-attests). */
  readonly expiresAt: Date;
  readonly #transport: BlockTransport;
  readonly #queue: BatchQueue;
  readonly #listeners: Array<(e: SessionEndedError) => void> = [];
  #ended: SessionEndedError | null = null;
  #closed = false;

  constructor(info: BlockSessionInfo, transport: BlockTransport, connections: number) {
    this.id = info.sessionId;
    this.volumeId = info.volumeId;
    this.vmId = info.vmId;
    this.bootId = info.bootId;
    this.sectorSize = info.sectorSize;
    this.sectors = BigInt(info.sectors);
    this.integrity = info.integrity;
    this.keyVersion = info.keyVersion;
    this.expiresAt = new Date(info.expiresAt);
    this.#transport = transport;
    // A stream closed with the session's end is heard at once, not only by the next request.
    transport.onStreamClosedWith = (answer) => {
      const error = blockProblem(answer);
      if (error instanceof SessionEndedError) this.#end(error);
    };
    this.#queue = new BatchQueue(
      async (op, lba, parts, sinks) => {
        this.#usable();
        this.#checked(await this.#transport.block(op, lba, parts, sinks));
      },
      connections,
      MAX_BATCH_SECTOR_BYTES,
    );
  }

  /** The error the session ended with, or null while it holds. */
  get ended(): SessionEndedError | null {
    return this.#ended;
  }

  /** Called once, when a request learns that the session has ended. */
  onEnded(listener: (e: SessionEndedError) => void): void {
    this.#listeners.push(listener);
  }

  /** Ciphertext of whole sectors from `lba` (into `into`, which may be the plaintext itself). */
  async encrypt(lba: bigint, plaintext: Uint8Array, into: Buffer = Buffer.allocUnsafe(plaintext.length)): Promise<Buffer> {
    await this.#run('encrypt', lba, { data: view(plaintext), out: into });
    return into;
  }

  /** Plaintext of whole sectors (into `into`, which may be the ciphertext itself). Refused for high-integrity volumes: use verifyDecrypt. */
  async decrypt(lba: bigint, ciphertext: Uint8Array, into: Buffer = Buffer.allocUnsafe(ciphertext.length)): Promise<Buffer> {
    await this.#run('decrypt', lba, { data: view(ciphertext), out: into });
    return into;
  }

  /** Ciphertext and one tag per sector, in one round trip (into `into`, which may be the plaintext itself, and `tags`). */
  async encryptSign(
    lba: bigint,
    generations: BigUint64Array,
    plaintext: Uint8Array,
    into: Buffer = Buffer.allocUnsafe(plaintext.length),
    tags: Buffer = Buffer.allocUnsafe((plaintext.length / this.sectorSize) * TAG_BYTES),
  ): Promise<{ ciphertext: Buffer; tags: Buffer }> {
    await this.#run('encrypt-sign', lba, { gens: encodeGenerations(generations), data: view(plaintext), out: into, tagsOut: tags });
    return { ciphertext: into, tags };
  }

  /** One tag per sector over (volume, LBA, generation, ciphertext). */
  async sign(lba: bigint, generations: BigUint64Array, ciphertext: Uint8Array): Promise<Buffer> {
    const tags = Buffer.allocUnsafe((ciphertext.length / this.sectorSize) * TAG_BYTES);
    await this.#run('sign', lba, { gens: encodeGenerations(generations), data: view(ciphertext), tagsOut: tags });
    return tags;
  }

  /** Resolves when every tag matches; IntegrityError names every sector that does not. */
  async verify(lba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): Promise<void> {
    await this.#run('verify', lba, { gens: encodeGenerations(generations), data: view(ciphertext), tags: view(tags) });
  }

  /** Verified, then decrypted (into `into`, which may be the ciphertext itself); IntegrityError names every failing sector. */
  async verifyDecrypt(lba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array, into: Buffer = Buffer.allocUnsafe(ciphertext.length)): Promise<Buffer> {
    await this.#run('verify-decrypt', lba, { gens: encodeGenerations(generations), data: view(ciphertext), tags: view(tags), out: into });
    return into;
  }

  /** A volume attestation: the service's TPM signs the Merkle root over every tag of the volume (in LBA order). */
  async attest(tags: Uint8Array): Promise<VolumeAttestation> {
    const answer = await this.#call('POST', `/v1/block-sessions/${this.id}/attestation`, [Buffer.from(tags)], null);
    return JSON.parse((answer as Buffer).toString('utf8')) as VolumeAttestation;
  }

  /**
   * Records the volume's state at the service (docs/service.md, "Volume state records"): a 32-byte
   * root over its tag file (the adapter's: over every sector's tag and generation word),
   * at its open (after its journal is replayed, naming the roots of the states the replay passed
   * through), at a checkpoint of its journal, or at its clean close. At an open, a root that is not
   * the one the volume was last closed with — or after an unclean end, not one the state last
   * recorded leads to — is a VolumeStateDiffersError. The answer opens under the session key, or
   * the call fails (AnswerSealError): it can only be the service's.
   */
  async recordVolumeState(moment: VolumeStateMoment, merkleRoot: Uint8Array, passedThrough: readonly Uint8Array[] = []): Promise<VolumeStateAnswer> {
    const answer = Buffer.alloc(VOLUME_STATE_ANSWER_BYTES);
    const body = encodeVolumeStateRequest({ merkleRoot: Buffer.from(merkleRoot), passedThrough: passedThrough.map((r) => Buffer.from(r)) });
    await this.#call('POST', `/v1/block-sessions/${this.id}/volume-state?moment=${moment}`, [body], [answer], VOLUME_STATE_SEALS);
    return decodeVolumeStateAnswer(answer);
  }

  /** Ends the session at the service (its key leaves memory there) and closes the connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (!this.#ended) await this.#call('DELETE', `/v1/block-sessions/${this.id}`, [], null);
    } catch (e) {
      if (!(e instanceof SessionEndedError)) throw e;
    } finally {
      this.#closed = true;
      this.#transport.destroy();
    }
  }

  /**
   * Runs `op` over whole sectors from `lba`, in batches of at most MAX_BATCH_SECTOR_BYTES queued
   * side by side (and merged with adjacent waiting ones, block-batches.ts). Integrity failures of
   * several batches are reported together.
   */
  async #run(op: BlockOp, lba: bigint, io: { gens?: Buffer; data: Buffer; tags?: Buffer; out?: Buffer; tagsOut?: Buffer }): Promise<void> {
    const S = this.sectorSize;
    const bytes = io.data.length;
    if (bytes <= 0 || bytes % S !== 0) throw new RangeError(`${op} takes whole ${S}-byte sectors, not ${bytes} bytes`);
    if (this.#ended) throw this.#ended;
    // The transport encrypts a body that carries plaintext where it lies: the caller's bytes only
    // when the answer overwrites them. Bodies only authenticated (ciphertext, tags) are sent as they are.
    if (BODY_SEALS[op].request === 'encrypted' && !sameBytes(io.data, io.out)) io = { ...io, data: Buffer.from(io.data) };
    const step = Math.max(S, MAX_BATCH_SECTOR_BYTES - (MAX_BATCH_SECTOR_BYTES % S));
    const runs: Array<Promise<void>> = [];
    for (let a = 0; a < bytes; a += step) {
      const b = Math.min(bytes, a + step);
      const [s, n] = [a / S, (b - a) / S];
      const batch: Batch = {
        op,
        lba: lba + BigInt(s),
        sectors: n,
        gens: io.gens?.subarray(s * GENERATION_BYTES, (s + n) * GENERATION_BYTES) ?? null,
        data: io.data.subarray(a, b),
        tags: io.tags?.subarray(s * TAG_BYTES, (s + n) * TAG_BYTES) ?? null,
        out: io.out?.subarray(a, b) ?? null,
        tagsOut: io.tagsOut?.subarray(s * TAG_BYTES, (s + n) * TAG_BYTES) ?? null,
      };
      runs.push(this.#queue.run(batch));
    }
    const settled = await Promise.allSettled(runs);
    const failures = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    if (failures.length === 0) return;
    const integrity = failures.filter((f): f is IntegrityError => f instanceof IntegrityError);
    if (integrity.length === failures.length && integrity.length > 1) throw integrity[0]!.narrowed(integrity.flatMap((f) => f.lbas).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    throw failures.find((f) => f instanceof SessionEndedError) ?? failures[0];
  }

  async #call(method: string, path: string, body: readonly Uint8Array[], sinks: readonly Buffer[] | null, seals: BodySeals = OTHER_BODY_SEALS): Promise<Buffer | null> {
    this.#usable();
    return this.#checked(await this.#transport.send(method, path, body, sinks, seals));
  }

  #usable(): void {
    if (this.#ended) throw this.#ended;
    if (this.#closed) throw new Error('the block session is closed');
  }

  /** An answer's bytes (or none); a problem as its typed error, a session-ended one ending the session. */
  #checked(answer: Buffer | ProblemAnswer | null): Buffer | null {
    if (answer === null || Buffer.isBuffer(answer)) return answer;
    const error = blockProblem(answer);
    if (error instanceof SessionEndedError) this.#end(error);
    throw error;
  }

  #end(e: SessionEndedError): void {
    if (this.#ended) return;
    this.#ended = e;
    for (const listener of this.#listeners.splice(0)) {
      try {
        listener(e);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
