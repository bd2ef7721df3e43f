// The shape every scope of a scan has (hosts-check.ts, vms-check.ts, keys-check.ts,
// configuration-check.ts, audit-check.ts): count what it will examine, then examine each item,
// adding findings and advancing the progress. Checks only read, and never read key material.

import type { Knex } from 'knex';
import type { ServiceState } from '../../platform/measured-start.js';
import type { FindingCollector, ScanScope } from './findings.js';
import type { ScanProgress } from './progress.js';

/** What checks compare against: the service's own start and the thresholds in force. */
export interface ScanContext {
  /** The measured start's outcome; absent when the service runs without a host TPM. */
  service: ServiceState | undefined;
  /** How long a host attestation holds (SEALKEEP_HOST_ATTESTATION_SECONDS). */
  hostAttestationSeconds: number;
  /** A key's primary version older than this is due for rotation. */
  keyRotationDays: number;
}

export interface ScopeCheck {
  scope: ScanScope;
  /** How many items run() will advance the progress by (counted before the scan starts). */
  count(db: Knex): Promise<number>;
  /** Examine every item; returns what was examined, e.g. { vms: 300, volumes: 600 }. */
  run(db: Knex, ctx: ScanContext, out: FindingCollector, progress: ScanProgress): Promise<Record<string, number>>;
}

/** Rows per page when a check walks a large table (each page is its own short transaction). */
export const PAGE_SIZE = 100;
