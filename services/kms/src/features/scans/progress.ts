// A running scan's progress: items done of the total counted at the start (hosts, VMs, keys,
// audit entries, the service's measurements), written to the scan's row at each new scope and
// otherwise only when the percentage moved and the interval has passed — so however many items
// a scan examines, it makes at most about a hundred progress writes, not one per item. Each write renews the heartbeat; a write that finds the
// scan no longer this runner's (declared lapsed) or a stop request ends the scan. Every few
// milliseconds of work it gives the event loop a turn: the embedded store runs in this thread,
// and a scan that only ever awaited its queries would hold off every request until it finished.

import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { ScanScope } from './findings.js';
import { SCOPE_TITLES } from './report.js';
import { saveProgress } from './store.js';

/** Thrown out of a check to end the scan early: the service is stopping, or the scan was taken away. */
export class ScanInterrupted extends Error {
  override name = 'ScanInterrupted';
}

export interface ProgressOptions {
  /** Least time between two progress writes (ms). */
  intervalMs: number;
  /** Longest stretch of work before the event loop gets a turn (ms; default 10). */
  sliceMs?: number;
  /** Why the scan must stop now, if it must (checked at every item). */
  stopReason(): string | null;
}

export class ScanProgress {
  private done = 0;
  private scope: ScanScope | null = null;
  private scopeDone = 0;
  private scopeTotal = 0;
  private lastWrite = 0;
  private lastPercent = -1;
  private lastYield = performance.now();
  private writes = 0;

  constructor(
    private readonly db: Knex,
    private readonly scanId: string,
    private readonly runnerId: string,
    private total: number,
    private readonly opts: ProgressOptions,
  ) {}

  /** Progress writes made so far (tests pin the throttling with it). */
  get writeCount(): number {
    return this.writes;
  }

  get percent(): number {
    if (this.total <= 0) return 0;
    return Math.min(99, Math.floor((this.done * 100) / this.total));
  }

  /** A scope starts, with the items counted for it; always written. */
  async begin(scope: ScanScope, items: number): Promise<void> {
    this.scope = scope;
    this.scopeDone = 0;
    this.scopeTotal = items;
    await this.write();
  }

  /** `n` more items of the current scope are checked; written when the percentage moved and the interval has passed. */
  async advance(n = 1): Promise<void> {
    const why = this.opts.stopReason();
    if (why) throw new ScanInterrupted(why);
    this.done += n;
    this.scopeDone += n;
    // Rows added since the count grow the total rather than pass 100 %.
    if (this.scopeDone > this.scopeTotal) {
      this.total += this.scopeDone - this.scopeTotal;
      this.scopeTotal = this.scopeDone;
    }
    if (this.percent !== this.lastPercent && Date.now() - this.lastWrite >= this.opts.intervalMs) await this.write();
    if (performance.now() - this.lastYield >= (this.opts.sliceMs ?? 10)) {
      await nextTurn();
      this.lastYield = performance.now();
    }
  }

  private step(): string {
    return this.scope ? `${SCOPE_TITLES[this.scope]}: ${this.scopeDone} of ${this.scopeTotal}` : 'starting';
  }

  private async write(): Promise<void> {
    this.lastWrite = Date.now();
    this.lastPercent = this.percent;
    this.writes++;
    const still = await saveProgress(this.db, this.scanId, this.runnerId, { percent: this.percent, step: this.step(), itemsDone: this.done, itemsTotal: this.total });
    if (!still) throw new ScanInterrupted('the scan is no longer held by this node');
  }
}
