// What can go wrong in a block session, as typed errors (RFC 9457 problems of the data plane):
// IntegrityError (422: the sectors whose tags do not match), SessionEndedError (410: why the
// session ended), ReleaseRefusedError (403 when a session opens: the release condition that failed),
// ServiceIdentityError (the session's opening is not proven by the service key the adapter
// trusts: it may be someone else's), and VolumeStateDiffersError (409 when a volume's state is
// recorded at its open: its tags are not those it was last closed with).

import { SealkeepError } from '../client.js';
import { problemError, type ProblemAnswer } from './block-transport.js';

/** Some sectors failed their integrity check: no plaintext of their batch is returned. */
export class IntegrityError extends SealkeepError {
  readonly lbas: bigint[];
  constructor(status: number, type: string, detail: string | undefined, problem: Record<string, unknown>, lbas: bigint[]) {
    super(status, type, detail, problem);
    this.name = 'IntegrityError';
    this.lbas = lbas;
  }

  /** The same failure, naming only `lbas`. */
  narrowed(lbas: bigint[]): IntegrityError {
    return new IntegrityError(this.status, this.type, this.detail, this.problem, lbas);
  }
}

/** The session ended: `reason` is the service's (attestation-lapsed, vm-restarted, key-disabled, closed, service-stopping), or 'unknown'. */
export class SessionEndedError extends SealkeepError {
  readonly reason: string;
  constructor(status: number, type: string, detail: string | undefined, problem: Record<string, unknown>) {
    super(status, type, detail, problem);
    this.name = 'SessionEndedError';
    this.reason = typeof problem.reason === 'string' ? problem.reason : 'unknown';
  }
}

/** The volume key was not released: `condition` names the one release condition that failed. */
export class ReleaseRefusedError extends SealkeepError {
  readonly condition: string;
  constructor(e: SealkeepError) {
    super(e.status, e.type, e.detail, e.problem);
    this.name = 'ReleaseRefusedError';
    this.condition = typeof e.problem.condition === 'string' ? e.problem.condition : 'unknown';
  }
}

/**
 * The volume's tags are not those it was last closed with — or, after an unclean end, not those
 * its last recorded state leads to through its journal: it was rolled back or altered at rest.
 */
export class VolumeStateDiffersError extends SealkeepError {
  /** The root the open showed; the root last recorded, when, and whether at a clean close ('closed') or while served ('served'). */
  readonly merkleRoot: string;
  readonly recordedRoot: string;
  readonly recordedAt: string;
  readonly recordedAs: string;
  /** For a record of a clean close: its root and when (the same as recordedRoot and recordedAt); 'unknown' otherwise. */
  readonly closedRoot: string;
  readonly closedAt: string;
  constructor(e: SealkeepError) {
    super(e.status, e.type, e.detail, e.problem);
    this.name = 'VolumeStateDiffersError';
    const text = (v: unknown) => (typeof v === 'string' ? v : 'unknown');
    this.merkleRoot = text(e.problem.merkleRoot);
    this.recordedRoot = text(e.problem.recordedRoot);
    this.recordedAt = text(e.problem.recordedAt);
    this.recordedAs = text(e.problem.recordedAs);
    this.closedRoot = text(e.problem.closedRoot);
    this.closedAt = text(e.problem.closedAt);
  }
}

/** A session's opening that the trusted service key does not prove: no sector is sent under it. */
export class ServiceIdentityError extends Error {
  constructor(readonly fault: string) {
    super(`the block session's opening is not the service's: ${fault}`);
    this.name = 'ServiceIdentityError';
  }
}

export const problemSlug = (type: string) => type.replace('https://sealkeep.dev/problems/', '');

/** The typed error of a problem answer. */
export function blockProblem(answer: ProblemAnswer): SealkeepError {
  const e = problemError(answer);
  if (problemSlug(e.type) === 'session-ended') return new SessionEndedError(e.status, e.type, e.detail, e.problem);
  if (problemSlug(e.type) === 'volume-state-differs') return new VolumeStateDiffersError(e);
  if (problemSlug(e.type) === 'integrity-check-failed') {
    const lbas = Array.isArray(e.problem.lbas) ? (e.problem.lbas as unknown[]).map((l) => BigInt(String(l))) : [];
    return new IntegrityError(e.status, e.type, e.detail, e.problem, lbas);
  }
  return e;
}
