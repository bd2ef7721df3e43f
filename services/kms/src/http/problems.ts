// RFC 9457 problem responses. Every error a client can see has one entry here: a stable type
// URI, its HTTP status and title. Handlers throw Problem; the error handler renders
// application/problem+json and never leaks internal detail (stack traces, SQL, key material).

import type { ErrorRequestHandler } from 'express';

export const PROBLEM_BASE = 'https://sealkeep.dev/problems/';

/** The catalogue: slug → status and title. A slug, once released, never changes meaning. */
export const PROBLEMS = {
  'malformed-request': { status: 400, title: 'The request body cannot be parsed' },
  'validation-failed': { status: 400, title: 'The request does not match the schema' },
  // Token exchange (RFC 8693); the `error` extension carries the OAuth error code (RFC 6749 §5.2).
  'token-exchange-refused': { status: 400, title: 'The token exchange was refused' },
  // Keys: an import token that is unknown, spent, expired or another tenant's; an import that
  // fails for any reason (one answer: it does not say which layer failed); a ciphertext, MAC or
  // wrapped key that does not open under the key; an operation the key's type does not serve.
  'import-token-invalid': { status: 400, title: 'The import token is unknown, already used or expired' },
  'import-failed': { status: 400, title: 'The wrapped key could not be imported' },
  'decryption-failed': { status: 400, title: 'The ciphertext does not open under this key: wrong key, wrong AAD, or altered' },
  'operation-not-supported': { status: 400, title: "The key's type does not support this operation" },
  unauthenticated: { status: 401, title: 'No valid request proof was presented' },
  forbidden: { status: 403, title: 'The principal may not perform this action' },
  // Host attestation: the `findings` extension names every check that failed (never a secret).
  'attestation-failed': { status: 403, title: 'The host attestation does not hold' },
  'attestation-stale': { status: 401, title: "The host's attestation has lapsed: attest again" },
  // Volume keys: the `condition` extension names the one release condition that failed (and
  // nothing more): vm-not-started, vm-on-another-host, no-release-policy, measurements-differ,
  // key-not-enabled, no-volume-key.
  'release-refused': { status: 403, title: 'The volume key is not released' },
  'enrollment-refused': { status: 403, title: 'The enrollment code is unknown, already used or expired' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'The resource does not support this method' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  'key-not-enabled': { status: 409, title: 'The key is disabled, pending destruction or destroyed' },
  // Volume state records: a volume opened with tags that are not those it was last closed with,
  // or after an unclean end, not those its last recorded state leads to; the `merkleRoot`,
  // `recordedRoot`, `recordedAt` and `recordedAs` extensions say what was found and expected.
  'volume-state-differs': { status: 409, title: 'The volume is not in the state last recorded, nor one it leads to: rolled back or altered at rest' },
  // Block operations: a sector whose tag does not verify; the `lbas` extension names each one.
  'integrity-check-failed': { status: 422, title: 'A sector failed its integrity check' },
  // A block session that ended (closed, its host's or VM's attestation lapsed, its key disabled).
  'session-ended': { status: 410, title: 'The block session has ended: open a new one' },
  'payload-too-large': { status: 413, title: 'The request body is larger than this route accepts' },
  'unsupported-media-type': { status: 415, title: 'The request body is not of the media type this route takes' },
  // An upgrade route asked for without its protocol in `Upgrade`; the answer names it in `Upgrade`.
  'upgrade-required': { status: 426, title: 'This resource is reached by upgrading the connection to another protocol' },
  'quota-exceeded': { status: 429, title: 'A tenant limit was reached' },
  'rate-limited': { status: 429, title: 'Too many operations per second' },
  internal: { status: 500, title: 'The service failed to complete the request' },
  'service-unavailable': { status: 503, title: 'The service is not ready' },
  'keys-unavailable': { status: 503, title: 'Keys cannot be used: the service root is not unsealed' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemSlug = keyof typeof PROBLEMS;

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

/** Thrown to answer with a problem of a catalogued type. */
export class Problem extends Error {
  constructor(
    readonly slug: ProblemSlug,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? PROBLEMS[slug].title);
    this.name = 'Problem';
  }

  get status(): number {
    return PROBLEMS[this.slug].status;
  }

  body(instance?: string): ProblemBody {
    const { status, title } = PROBLEMS[this.slug];
    return { type: PROBLEM_BASE + this.slug, title, status, ...(this.detail ? { detail: this.detail } : {}), ...(instance ? { instance } : {}), ...this.extensions };
  }
}

/** Errors raised by express's body parser, as problems. */
function fromBodyParser(err: { type?: string; status?: number }): Problem | null {
  switch (err.type) {
    case 'entity.parse.failed':
      return new Problem('malformed-request');
    case 'entity.too.large':
    case 'parameters.too.many':
      return new Problem('payload-too-large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new Problem('unsupported-media-type');
    default:
      return null;
  }
}

export interface ProblemHandlerOptions {
  /** Called with every error that is not a Problem (a bug, or a dependency failing). */
  onInternalError(err: unknown, requestId: string | undefined): void;
}

export function problemHandler(opts: ProblemHandlerOptions): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const requestId = res.getHeader('x-request-id') as string | undefined;
    let problem: Problem;
    if (err instanceof Problem) problem = err;
    else {
      problem = fromBodyParser(err) ?? new Problem('internal', requestId ? `request ${requestId}` : undefined);
      if (problem.slug === 'internal') opts.onInternalError(err, requestId);
    }
    for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem.body(req.originalUrl)));
  };
}
