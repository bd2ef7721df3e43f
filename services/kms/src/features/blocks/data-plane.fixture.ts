// Test set-up for the data plane: the key routes' world (keysApi: store, host TPM, key engine,
// a tenant with officer alice and user bob) plus VM vTPMs in a temporary directory, block
// sessions on two worker threads, an attested host whose adapter is `hv`, and acme's cloud
// management delegate `cms`. `hvToken()` is bob → cms → hv; `startVm` and `openSession` drive
// the data-plane routes as the adapter does, `blocks` seals with the session key (and opens the
// answer), `volumeState` records a volume's state as the adapter does at an open or clean close.
// `Raw` reads a connection to the listening data plane by hand (TCP or TLS): HTTP heads, frames.

import { createECDH, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type net from 'node:net';
import {
  ANSWER_HEADER_BYTES,
  ANSWER_TAG_HEADER,
  bodySealsOf,
  decodeAnswerHeader,
  type AnswerFrameHeader,
  blockRequestUrl,
  decodeVolumeStateAnswer,
  deriveSessionKey,
  jwkThumbprint,
  openBody,
  publicJwk,
  sealBody,
  sessionAuthorization,
  newKeyPair,
  VOLUME_STATE_SEALS,
  type BlockOp,
  type VolumeStateAnswer,
  type VolumeStateMoment,
} from '@sealkeep/crypto';
import { authorizationHeader, delegationGrant } from '@sealkeep/sdk';
import { TpmManager, type CelRecord } from '@sealkeep/tpm';
import { goodBootLog, recordsOf } from '@sealkeep/tpm/vm-boot-fixture';
import { buildListeners } from '../../server.js';
import type { RequestLogEntry } from '../../http/mount.js';
import { deriveTokenKey } from '../../auth/token-key.js';
import { DELEGATION_HEADER } from '../../auth/delegation.js';
import { insertPrincipal } from '../principals/store.js';
import { attestedHostFor } from '../hosts/hosts.fixture.js';
import { keysApi, type KeysApi } from '../keys/keys-api.fixture.js';
import { loadAk } from '../../platform/host-tpm.js';
import { BlockPool } from './block-pool.js';
import { BlockSessions } from './block-sessions.js';
import { formOf } from '../tokens/delegation.fixture.js';
import type { App } from '../quotas/api.fixture.js';
import type { Role } from '../../auth/permissions.js';
import type { KeyObject } from 'node:crypto';

export interface Party {
  id: string;
  key: KeyObject;
}

export interface DataPlane {
  api: KeysApi;
  vtpms: TpmManager;
  /** Where the vTPMs' state files are (what a restarted service opens again), and their platform key. */
  vtpmDir: string;
  vtpmPlatformKey: Buffer;
  sessions: BlockSessions;
  /** Every request the listeners logged, in order. */
  requestLog: RequestLogEntry[];
  /** What the listeners warned of their upgraded connections, with the message as `message`. */
  connectionWarnings: Array<Record<string, unknown>>;
  tenantApp: App;
  dataApp: App;
  hv: Party;
  hostId: string;
  cms: Party;
  bob: Party;
  /** A new VM with one volume, under a release policy naming its boot, started as hv for bob: ready for a session. */
  readyVm(opts?: Parameters<DataPlane['newVm']>[0]): Promise<{ vmId: string; volumeId: string; kekId: string; boot: ReturnType<typeof bootOf>; vpcrs: Record<string, string> }>;
  /** A new VM with one volume, and an enabled AES key for its release policy. */
  newVm(opts?: { sectorSize?: 512 | 4096; sectors?: number; integrity?: 'low' | 'moderate' | 'high' }): Promise<{ vmId: string; volumeId: string; kekId: string }>;
  hvToken(): Promise<string>;
  /** POST …/boot as hv acting for bob. */
  startVm(vmId: string, events: CelRecord[], token?: string): Promise<request.Response>;
  /** POST …/sessions as hv; the session key when it opened, and the ECDH point hv sent (base64url). */
  openSession(vmId: string, volumeId: string, token?: string): Promise<{ res: request.Response; key?: Buffer; adapterPoint: string }>;
  /** The kid of the service's signing key (what GET /v1/service-key answers). */
  tokenKeyId: string;
  /** A block request in a session, sealed with the session key; its answer opened (the test fails if it does not open). */
  blocks(sessionId: string, key: Buffer, op: string, lba: bigint | number, body: Buffer, seq?: number): Promise<request.Response>;
  /** POST …/volume-state?moment=… (the root of the volume's tags) sealed with the session key: the answer opened (the test fails if it does not), or null for a problem. */
  volumeState(sessionId: string, key: Buffer, moment: VolumeStateMoment, merkleRoot: Buffer, passedThrough?: Buffer[]): Promise<{ res: request.Response; answer: VolumeStateAnswer | null }>;
  /** The same request, its answer left as it came (`res.body`), with the URL, seq and the bytes that were sent. */
  sealedRequest(sessionId: string, key: Buffer, op: string, lba: bigint | number, body: Buffer, seq?: number): Promise<{ res: request.Response; url: string; seq: number; sent: Buffer }>;
  close(): Promise<void>;
}

/** Generation `g` for each of n sectors, as block requests carry them (u64 big-endian). */
export function generations(n: number, g = 1n): Buffer {
  const b = Buffer.alloc(8 * n);
  for (let i = 0; i < n; i++) b.writeBigUInt64BE(g, 8 * i);
  return b;
}

/** The seal a block answer carries (Sealkeep-Session-Tag), as bytes. */
export const answerTagOf = (res: request.Response) => Buffer.from(String(res.headers[ANSWER_TAG_HEADER.toLowerCase()] ?? ''), 'base64url');

export const bootOf = (opts?: { config?: string; volume?: string }) => {
  const b = goodBootLog(opts);
  return { events: recordsOf(b.log), configuration: b.configuration.toString('hex'), bootVolume: b.bootVolume.toString('hex') };
};

export async function dataPlane(): Promise<DataPlane> {
  const api = await keysApi();
  const db = api.f.store.db;
  const dir = await mkdtemp(path.join(tmpdir(), 'sealkeep-vtpms-'));
  const vtpmPlatformKey = Buffer.alloc(32, 7);
  const vtpms = await TpmManager.open({ dir, platformKey: vtpmPlatformKey });
  const sessions = new BlockSessions(db, new BlockPool(2));
  const requestLog: RequestLogEntry[] = [];
  const connectionWarnings: Array<Record<string, unknown>> = [];
  api.keys.engine.onForget((keyId) => void sessions.endWhere((s) => keyId === undefined || s.kekId === keyId, 'key-disabled'));
  const ak = await loadAk(api.t.host.client);
  const tokenKey = deriveTokenKey(Buffer.alloc(32, 9));
  const [tenantApp, dataApp] = buildListeners(
    { store: api.f.store, tokenKey, keys: api.keys, onInternalError: (err) => console.error('internal error:', err), onRequest: (entry) => void requestLog.push(entry), onConnectionWarning: (entry, message) => void connectionWarnings.push({ ...entry, message }), data: { vtpms, sessions, attestation: { tpm: api.t.host.client, akHandle: ak.handle, akCertificatePem: api.keys.endorsement?.akCertificatePem ?? null } } },
    [['tenant'], ['data']],
  ) as unknown as [App, App];
  const add = async (name: string, role: Role, tenantId: string | null): Promise<Party> => {
    const { privateKey, publicKey } = newKeyPair('ec', { namedCurve: 'P-256' });
    const jwk = publicJwk(publicKey);
    const id = randomUUID();
    await insertPrincipal(db, { principal_id: id, tenant_id: tenantId, name, role, public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
    return { id, key: privateKey };
  };
  const hv = await add('vpxuser@host-07', 'hypervisor', null);
  const hostId = await attestedHostFor(db, hv.id, 'host-07');
  const cms = await add('vcloud-svc', 'delegate', api.tenantId);
  const bob = await add('bob-vm-owner', 'tenant-user', api.tenantId);
  let seq = 0;

  const exchange = async (app: App, who: Party, form: Record<string, string>) => {
    const body = formOf(form as never);
    const res = await request(app)
      .post('/v1/token')
      .set('content-type', 'application/x-www-form-urlencoded')
      .set('authorization', authorizationHeader({ key: who.key, principalId: who.id, method: 'POST', url: '/v1/token', body }))
      .send(body);
    if (res.status !== 200) throw new Error(`token exchange: ${res.status} ${res.text}`);
    return res.body.access_token as string;
  };
  const hvToken = async () => {
    const grant = delegationGrant({ key: bob.key, principalId: bob.id, tenantId: api.tenantId, to: 'cms:vcloud-svc' });
    const first = await exchange(tenantApp, cms, { subject_token: grant, next_actor: 'hv:vpxuser@host-07' });
    return exchange(dataApp, hv, { subject_token: first });
  };
  const asHv = (method: 'post', url: string, json: unknown, token?: string) => {
    const body = JSON.stringify(json);
    let req = request(dataApp)[method](url).set('authorization', authorizationHeader({ key: hv.key, principalId: hv.id, method, url, body })).set('content-type', 'application/json');
    if (token) req = req.set(DELEGATION_HEADER, token);
    return req.send(body);
  };

  const sealedRequest: DataPlane['sealedRequest'] = async (sessionId, key, op, lba, body, useSeq) => {
    const url = op === 'attestation' || op.startsWith('volume-state?') ? `/v1/block-sessions/${sessionId}/${op}` : blockRequestUrl(sessionId, op as BlockOp, BigInt(lba));
    const s = useSeq ?? ++seq;
    // Sealed as the adapter seals it (a copy: the caller's bytes stay as they were).
    const sent = Buffer.from(body);
    const tag = sealBody(key, s, 'request', bodySealsOf(op).request, 'POST', url, [sent]);
    const res = await request(dataApp)
      .post(url)
      .set('content-type', 'application/octet-stream')
      .set('authorization', sessionAuthorization(s, tag))
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .send(sent);
    return { res, url, seq: s, sent };
  };

  const plane: DataPlane = {
    api,
    vtpms,
    vtpmDir: dir,
    vtpmPlatformKey,
    sessions,
    requestLog,
    connectionWarnings,
    tenantApp,
    dataApp,
    hv,
    hostId,
    cms,
    bob,
    hvToken,
    tokenKeyId: tokenKey.kid,
    async newVm(opts = {}) {
      const sectorSize = opts.sectorSize ?? 4096;
      const vm = await api.call(api.user, 'post', `${api.base}/vms`, { name: `vm-${randomUUID().slice(0, 8)}` });
      const vmId = vm.body.vmId as string;
      const vol = await api.call(api.user, 'post', `${api.base}/vms/${vmId}/volumes`, {
        name: 'root',
        sizeBytes: sectorSize * (opts.sectors ?? 1024),
        sectorSize,
        cia: { confidentiality: 'high', integrity: opts.integrity ?? 'moderate', availability: 'moderate' },
      });
      if (vol.status !== 201) throw new Error(`volume: ${vol.status} ${vol.text}`);
      const kek = await api.call(api.officer, 'post', `${api.base}/keys`, { name: `kek-${vmId.slice(0, 8)}`, type: 'aes-256' });
      if (kek.status !== 201) throw new Error(`key: ${kek.status} ${kek.text}`);
      return { vmId, volumeId: vol.body.volumes[0].volumeId as string, kekId: kek.body.keyId as string };
    },
    async readyVm(opts = {}) {
      const vm = await plane.newVm(opts);
      const boot = bootOf();
      const policy = await api.call(api.officer, 'put', `${api.base}/vms/${vm.vmId}/release-policy`, { keyId: vm.kekId, referenceValues: { events: { configuration: boot.configuration, bootVolume: boot.bootVolume } } });
      if (policy.status !== 200) throw new Error(`release policy: ${policy.status} ${policy.text}`);
      const started = await plane.startVm(vm.vmId, boot.events);
      if (started.status !== 200 || started.body.policyResult !== 'match') throw new Error(`boot: ${started.status} ${started.text}`);
      return { ...vm, boot, vpcrs: started.body.vpcrs as Record<string, string> };
    },
    async startVm(vmId, events, token) {
      return asHv('post', `${api.base}/vms/${vmId}/boot`, { events }, token ?? (await hvToken()));
    },
    async openSession(vmId, volumeId, token) {
      const ecdh = createECDH('prime256v1');
      const point = ecdh.generateKeys();
      const adapterPoint = point.toString('base64url');
      const res = await asHv('post', `${api.base}/vms/${vmId}/volumes/${volumeId}/sessions`, { ecdhPublicKey: adapterPoint }, token ?? (await hvToken()));
      if (res.status !== 201) return { res, adapterPoint };
      return { res, adapterPoint, key: deriveSessionKey(ecdh.computeSecret(Buffer.from(res.body.serviceEcdhPublicKey, 'base64url')), res.body.sessionId) };
    },
    sealedRequest,
    async blocks(sessionId, key, op, lba, body, useSeq) {
      const { res, url, seq: s } = await sealedRequest(sessionId, key, op, lba, body, useSeq);
      // A block operation's answer is sealed too: opened here, or the test fails.
      if (op !== 'attestation' && res.status < 300 && !openBody(key, s, 'answer', bodySealsOf(op).answer, 'POST', url, [res.body as Buffer], answerTagOf(res))) {
        throw new Error(`the ${op} answer's seal does not hold`);
      }
      return res;
    },
    async volumeState(sessionId, key, moment, merkleRoot, passedThrough = []) {
      const { res, url, seq: s } = await sealedRequest(sessionId, key, `volume-state?moment=${moment}`, 0, Buffer.concat([merkleRoot, ...passedThrough]));
      if (res.status !== 200) return { res, answer: null };
      if (!openBody(key, s, 'answer', VOLUME_STATE_SEALS.answer, 'POST', url, [res.body as Buffer], answerTagOf(res))) throw new Error("the volume state answer's seal does not hold");
      return { res, answer: decodeVolumeStateAnswer(res.body as Buffer) };
    },
    async close() {
      await sessions.closeAll();
      await sessions.pool.destroy();
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return plane;
}

/** A connection to the data plane (TCP or TLS), read by hand: everything received is kept, and taken off the front as it is parsed. */
export class Raw {
  received = Buffer.alloc(0);
  readonly closed: Promise<void>;
  #wake: () => void = () => undefined;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.#wake();
    });
    this.closed = once(socket, 'close').then(() => undefined);
    socket.on('close', () => this.#wake());
  }
  async #until(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.socket.destroyed && !ready()) throw new Error(`the connection closed; received ${this.received.length} bytes`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
  /** The HTTP head of an answer (and its body, by Content-Length). */
  async http(): Promise<{ status: number; head: string; body: string }> {
    await this.#until(() => this.received.includes('\r\n\r\n'));
    const end = this.received.indexOf('\r\n\r\n');
    const head = this.received.toString('latin1', 0, end);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    await this.#until(() => this.received.length >= end + 4 + length);
    const body = this.received.toString('utf8', end + 4, end + 4 + length);
    this.received = this.received.subarray(end + 4 + length);
    return { status: Number(head.slice(9, 12)), head, body };
  }
  /** The next answer frame. */
  async answer(): Promise<{ header: AnswerFrameHeader; body: Buffer }> {
    await this.#until(() => this.received.length >= ANSWER_HEADER_BYTES);
    const header = decodeAnswerHeader(this.received);
    assert.equal(typeof header, 'object', String(header));
    const h = header as AnswerFrameHeader;
    await this.#until(() => this.received.length >= ANSWER_HEADER_BYTES + h.length);
    const body = Buffer.from(this.received.subarray(ANSWER_HEADER_BYTES, ANSWER_HEADER_BYTES + h.length));
    this.received = this.received.subarray(ANSWER_HEADER_BYTES + h.length);
    return { header: h, body };
  }
}
