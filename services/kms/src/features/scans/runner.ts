// The node's scan runner: scans run in the background of the process that accepted them, one at
// a time, in the order they were asked for. While it holds scans it renews their heartbeat every
// few seconds; a scan whose heartbeat lapses (the node was killed) is failed by whoever reads it
// next, or at the next start (store.ts). A clean stop fails what it still holds at once. Every
// finish — done or failed — is audited in the provider's chain, in the transaction that records it.

import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { ScanInterrupted } from './progress.js';
import { runScan, type ScanJob } from './scan.js';
import { failScan, finishScan, HEARTBEAT_SECONDS, renewHeartbeats } from './store.js';
import type { ScanContext } from './scope-check.js';

export interface ScanRunnerOptions {
  /** Least time between two progress writes of a scan (default 250 ms). */
  progressIntervalMs?: number;
  /** Scans a node holds at once, queued or running (default 4); more are refused. */
  maxPending?: number;
  /** A scan failed for a reason other than an interruption (the cause goes to the log, not the report). */
  onError?(err: unknown, scanId: string): void;
}

/** A place held in a runner for a scan being accepted. */
export interface ScanSlot {
  enqueue(job: ScanJob, ctx: ScanContext): void;
  release(): void;
}

/** The service acting for the reviewer who asked: the audit names both, the reviewer first. */
const serviceActor = (job: ScanJob): AuditActor => ({ plane: 'compliance', principal: 'sys:sealkeep', actorChain: [job.requestedBy, 'sys:sealkeep'], requestId: job.requestId });

export class ScanRunner {
  /** Stamped on every scan this process holds (scans.runner_id). */
  readonly runnerId = randomUUID();
  private readonly queue: Array<{ job: ScanJob; ctx: ScanContext }> = [];
  private running: ScanJob | null = null;
  /** Slots taken by scans being accepted (stored, not yet enqueued). */
  private reserved = 0;
  private draining: Promise<void> | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopping: string | null = null;

  constructor(
    private readonly db: Knex,
    private readonly opts: ScanRunnerOptions = {},
  ) {}

  /** Scans held: being accepted, queued or running. */
  get pending(): number {
    return this.reserved + this.queue.length + (this.running ? 1 : 0);
  }

  get maxPending(): number {
    return this.opts.maxPending ?? 4;
  }

  /** Whether stop() was called: no scan is taken any more. */
  get stopped(): boolean {
    return this.stopping !== null;
  }

  /** Whether another scan may be accepted now. */
  get accepting(): boolean {
    return !this.stopping && this.pending < this.maxPending;
  }

  /**
   * Hold a slot for a scan about to be stored, before any await, so concurrent requests never pass
   * the limit together; null when there is none. The slot is filled by its enqueue(), or given back.
   */
  reserve(): ScanSlot | null {
    if (!this.accepting) return null;
    this.reserved++;
    let held = true;
    const release = () => {
      if (held) this.reserved--;
      held = false;
    };
    return {
      release,
      enqueue: (job, ctx) => {
        release();
        this.enqueue(job, ctx);
      },
    };
  }

  /** Take a scan already stored as queued under this runner's id. */
  enqueue(job: ScanJob, ctx: ScanContext): void {
    if (this.stopping) throw new Error('the scan runner is stopping');
    this.queue.push({ job, ctx });
    if (!this.draining) this.draining = this.drain();
  }

  /** Resolves once nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Stop: the running scan ends at its next item, and it and every queued one are failed with `reason`. */
  async stop(reason = 'the service stopped'): Promise<void> {
    this.stopping = reason;
    for (const { job } of this.queue.splice(0)) await this.fail(job, `interrupted: ${reason} before the scan ran`);
    await this.idle();
  }

  private async drain(): Promise<void> {
    this.heartbeat = setInterval(() => void renewHeartbeats(this.db, this.runnerId).catch(() => {}), HEARTBEAT_SECONDS * 1000);
    this.heartbeat.unref();
    try {
      for (let next = this.queue.shift(); next && !this.stopping; next = this.queue.shift()) await this.runOne(next.job, next.ctx);
    } finally {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
      this.draining = null;
    }
  }

  private async runOne(job: ScanJob, ctx: ScanContext): Promise<void> {
    this.running = job;
    try {
      const report = await runScan(this.db, this.runnerId, job, ctx, { intervalMs: this.opts.progressIntervalMs ?? 250, stopReason: () => this.stopping });
      if (!report) return;
      const { counts, passed } = report.summary;
      await finishScan(this.db, job.scanId, this.runnerId, report, (trx) =>
        appendAudit(trx, serviceActor(job), { tenantId: null, action: 'scan.finish', resource: `scan:${job.scanId}`, outcome: 'success', details: { ...counts, passed } }),
      );
    } catch (err) {
      if (!(err instanceof ScanInterrupted)) this.opts.onError?.(err, job.scanId);
      await this.fail(job, err instanceof ScanInterrupted ? `interrupted: ${err.message}` : `an internal error ended the scan (the service log has it under scan ${job.scanId})`);
    } finally {
      this.running = null;
    }
  }

  private async fail(job: ScanJob, reason: string): Promise<void> {
    try {
      await failScan(this.db, job.scanId, this.runnerId, reason, (trx) =>
        appendAudit(trx, serviceActor(job), { tenantId: null, action: 'scan.finish', resource: `scan:${job.scanId}`, outcome: 'failure', details: { reason } }),
      );
    } catch (err) {
      this.opts.onError?.(err, job.scanId);
    }
  }
}
