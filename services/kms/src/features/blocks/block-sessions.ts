// Open block sessions, in this process's memory: which volume each serves, for which host
// principal and boot, under which tenant key, until when; its session key and seen sequence
// numbers; and the block requests not yet written to the audit trail. A session ends when it is
// closed, when its host's attestation runs out, when the VM starts again (a new boot), or when
// its key is disabled or destroyed — checked against the store at least every RECHECK_MS, and at
// once for a key disabled through this process (KeyEngine.onForget); a sweep looks at idle
// sessions too, and ends those unused for IDLE_MS.

import type { Knex } from 'knex';
import { asProvider, inTenant } from '@sealkeep/store';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import type { BlockPool } from './block-pool.js';
import { SeqWindow } from '@sealkeep/crypto';
import type { BlockOp } from './block-ops.js';

export const RECHECK_MS = 5_000;
/** Block requests gathered into one audit entry: at most this many, or this long. */
export const AUDIT_BATCH_REQUESTS = 256;
export const AUDIT_BATCH_MS = 1_000;

export interface BlockSession {
  id: string;
  tenantId: string;
  vmId: string;
  volumeId: string;
  bootId: string;
  hostId: string;
  principalId: string;
  principalName: string;
  principalLabel: string;
  /** Who opened it: the delegation chain when there was one, subject first. */
  actorChain: string[];
  kekId: string;
  kekVersion: number;
  sectorSize: 512 | 4096;
  sectors: bigint;
  integrity: 'low' | 'moderate' | 'high';
  key: Buffer;
  expiresAt: number;
  seq: SeqWindow;
  checkedAt: number;
  /** When its last block request came. */
  usedAt: number;
  audit: PendingAudit;
  /** Its block streams' closers, each called (with the reason) when the session ends. */
  streams: Set<(reason: EndReason) => void>;
}

interface PendingAudit {
  requests: number;
  sectors: Record<string, number>;
  bytes: number;
  firstLba: bigint | null;
  lastLba: bigint | null;
  failedLbas: string[];
  firstRequestId: string | null;
  timer: NodeJS.Timeout | null;
}

const emptyAudit = (): PendingAudit => ({ requests: 0, sectors: {}, bytes: 0, firstLba: null, lastLba: null, failedLbas: [], firstRequestId: null, timer: null });

export type EndReason = 'closed' | 'idle' | 'attestation-lapsed' | 'vm-restarted' | 'key-disabled' | 'service-stopping';

/** A session with no block request for this long ends: its keys do not wait in memory for a holder that left. */
export const IDLE_MS = 15 * 60_000;

/** How long an ended session's reason is remembered, so its holder learns why (at most ENDED_KEPT of them). */
const ENDED_MS = 10 * 60_000;
const ENDED_KEPT = 10_000;

export class BlockSessions {
  readonly #sessions = new Map<string, BlockSession>();
  readonly #ended = new Map<string, { reason: EndReason; at: number }>();

  constructor(
    private readonly db: Knex,
    readonly pool: BlockPool,
    private readonly onAuditError: (err: unknown) => void = () => {},
  ) {}

  add(s: Omit<BlockSession, 'seq' | 'checkedAt' | 'usedAt' | 'audit' | 'streams'>): BlockSession {
    const session: BlockSession = { ...s, seq: new SeqWindow(), checkedAt: Date.now(), usedAt: Date.now(), audit: emptyAudit(), streams: new Set() };
    this.#sessions.set(s.id, session);
    return session;
  }

  get(id: string): BlockSession | undefined {
    return this.#sessions.get(id);
  }

  /** Why a session of this process ended, for a while after it did. */
  endedBecause(id: string): EndReason | undefined {
    const e = this.#ended.get(id);
    return e && Date.now() - e.at < ENDED_MS ? e.reason : undefined;
  }

  /** Whether the session may still serve; ends it (and says why) when not. */
  async stillHolds(s: BlockSession): Promise<EndReason | null> {
    // Past the attestation's end, look again: the host may have attested since (that extends it).
    if (Date.now() < s.expiresAt && Date.now() - s.checkedAt < RECHECK_MS) return null;
    const reason = await this.#recheck(s);
    if (reason) return this.#endFor(s, reason);
    s.checkedAt = Date.now();
    return null;
  }

  async #recheck(s: BlockSession): Promise<EndReason | null> {
    const host = await asProvider(this.db, (trx) => trx('hosts').where({ host_id: s.hostId, principal_id: s.principalId, status: 'attested' }).first('attested_until'));
    if (!host?.attested_until || new Date(host.attested_until).getTime() <= Date.now()) return 'attestation-lapsed';
    s.expiresAt = new Date(host.attested_until).getTime();
    return inTenant(this.db, s.tenantId, async (trx) => {
      const vm = await trx('vms').where({ tenant_id: s.tenantId, vm_id: s.vmId }).first('current_boot_id');
      if (vm?.current_boot_id !== s.bootId) return 'vm-restarted';
      const key = await trx('keys').where({ tenant_id: s.tenantId, key_id: s.kekId }).first('state');
      return key?.state === 'enabled' ? null : 'key-disabled';
    });
  }

  async #endFor(s: BlockSession, reason: EndReason): Promise<EndReason> {
    await this.end(s.id, reason);
    return reason;
  }

  /** End one session: its keys leave the workers, its streams close, its pending audit is written. */
  async end(id: string, reason: EndReason): Promise<void> {
    const s = this.#sessions.get(id);
    if (!s) return;
    this.#sessions.delete(id);
    this.#ended.set(id, { reason, at: Date.now() });
    if (this.#ended.size > ENDED_KEPT) this.#ended.delete(this.#ended.keys().next().value!);
    this.pool.close(id);
    s.key.fill(0);
    for (const close of s.streams) close(reason);
    s.streams.clear();
    await this.flushAudit(s, reason);
  }

  /** End every session the predicate picks (a key disabled, a host's attestation failed). */
  async endWhere(pick: (s: BlockSession) => boolean, reason: EndReason): Promise<number> {
    const doomed = [...this.#sessions.values()].filter(pick);
    await Promise.all(doomed.map((s) => this.end(s.id, reason)));
    return doomed.length;
  }

  /** Count one block request toward the session's next audit entry. */
  record(s: BlockSession, op: BlockOp, firstLba: bigint, sectors: number, bytes: number, requestId: string, failedLbas: readonly bigint[] = []): void {
    s.usedAt = Date.now();
    const a = s.audit;
    a.requests++;
    a.sectors[op] = (a.sectors[op] ?? 0) + sectors;
    a.bytes += bytes;
    const last = firstLba + BigInt(Math.max(sectors - 1, 0));
    if (a.firstLba === null || firstLba < a.firstLba) a.firstLba = firstLba;
    if (a.lastLba === null || last > a.lastLba) a.lastLba = last;
    for (const lba of failedLbas) if (a.failedLbas.length < 64) a.failedLbas.push(lba.toString());
    a.firstRequestId ??= requestId;
    if (a.requests >= AUDIT_BATCH_REQUESTS || failedLbas.length) void this.flushAudit(s).catch(this.onAuditError);
    else a.timer ??= setTimeout(() => void this.flushAudit(s).catch(this.onAuditError), AUDIT_BATCH_MS).unref();
  }

  /** Write the session's gathered block requests as one audit entry (and the reason, when it ends). */
  async flushAudit(s: BlockSession, ended?: EndReason): Promise<void> {
    const a = s.audit;
    if (a.timer) clearTimeout(a.timer);
    s.audit = emptyAudit();
    if (a.requests === 0 && !ended) return;
    const actor: AuditActor = { plane: 'data', principal: s.principalLabel, actorChain: s.actorChain, requestId: a.firstRequestId ?? s.id };
    const details: Record<string, string | number> = { sessionId: s.id, vmId: s.vmId, bootId: s.bootId, requests: a.requests, bytes: a.bytes, keyVersion: s.kekVersion };
    for (const [op, n] of Object.entries(a.sectors)) details[`${op}Sectors`] = n;
    if (a.firstLba !== null) details.lbas = `${a.firstLba}-${a.lastLba}`;
    if (a.failedLbas.length) details.failedLbas = a.failedLbas.join(',');
    if (ended) details.ended = ended;
    await inTenant(this.db, s.tenantId, (trx) =>
      appendAudit(trx, actor, { tenantId: s.tenantId, action: 'block.batch', resource: `volume:${s.volumeId}`, outcome: a.failedLbas.length ? 'failure' : 'success', details }),
    );
  }

  /**
   * Look at every session, not only those that get requests: idle ones end, and the others are
   * checked against the store as a request would (a key disabled on another node, a lapsed host).
   */
  async sweep(now = Date.now()): Promise<void> {
    for (const s of [...this.#sessions.values()]) {
      if (now - s.usedAt >= IDLE_MS) await this.end(s.id, 'idle');
      else await this.stillHolds(s);
    }
  }

  /** Sweep every RECHECK_MS until stopped. */
  startSweeping(onError: (err: unknown) => void): { stop(): void } {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.sweep()
        .catch(onError)
        .finally(() => (running = false));
    }, RECHECK_MS);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  async closeAll(): Promise<void> {
    await this.endWhere(() => true, 'service-stopping');
  }
}
