// The service's logger: pino, with every field that can hold a secret redacted wherever it sits
// in a logged object: credentials in headers, enrollment codes, private keys and their JWK
// members, OAuth tokens, passwords; a connection URL keeps everything but its password. Errors,
// at any depth, are logged as type, message, stack, code and cause — never the configuration,
// request or body an error object may drag along.
//
// The redaction is one pass over each logged object (pino's log formatter) rather than pino's
// `redact` paths: those cost about a microsecond per wildcard path per line, and naming each
// secret at every depth takes a few hundred paths — half a millisecond on every request's line.
// Child-logger bindings are not passed through it; bind no secrets.

import { pino, type DestinationStream, type Logger } from 'pino';

/** Header and field names (compared without case) whose values are secrets, redacted at any depth. */
export const SECRET_FIELDS = [
  // Headers: request proofs, delegation tokens, cookies.
  'authorization',
  'proxy-authorization',
  'sealkeep-delegation',
  'cookie',
  'set-cookie',
  // Enrollment and request proofs.
  'code',
  'enrollmentCode',
  'proof',
  // Private keys: whole, and the private members of a JWK (EC/OKP d; RSA p, q, dp, dq, qi; oct k).
  'privateJwk',
  'privateKey',
  'privateKeyPem',
  'd',
  'p',
  'q',
  'dp',
  'dq',
  'qi',
  'k',
  // OAuth token exchange (RFC 8693) and client credentials.
  'subject_token',
  'actor_token',
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'client_assertion',
  'client_secret',
  // Passwords, TPM authorization values, seeds and plaintext key material.
  'password',
  'passphrase',
  'secret',
  'authValue',
  'seed',
  'plaintext',
] as const;

/** Fields that hold a connection URL: redacted to the URL without its password. */
export const URL_FIELDS = ['url', 'databaseUrl', 'DATABASE_URL', 'connectionString', 'connection'] as const;

export const REDACTED = '[Redacted]';
/** Objects nested deeper than this are logged as [Truncated]. */
const MAX_DEPTH = 8;
const MAX_CAUSES = 3;

const SECRET_SET: ReadonlySet<string> = new Set(SECRET_FIELDS.map((f) => f.toLowerCase()));
const URL_SET: ReadonlySet<string> = new Set(URL_FIELDS.map((f) => f.toLowerCase()));

/** A connection URL without its password. */
function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = REDACTED;
    return u.toString();
  } catch {
    return /:\/\/[^/@]*:[^/@]*@/.test(url) ? REDACTED : url;
  }
}

/** An error as the log keeps it: what went wrong and where, nothing it carries. */
export function serializeError(err: unknown, depth = 0): unknown {
  if (err === null || typeof err !== 'object') return { type: typeof err, message: String(err) };
  const e = err as { message?: unknown; stack?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
  const out: Record<string, unknown> = {
    type: err instanceof Error ? err.constructor.name : 'Object',
    message: typeof e.message === 'string' ? e.message : '',
  };
  if (typeof e.stack === 'string') out.stack = e.stack;
  // Error codes (ENOENT, 23505) are not secrets; kept under a name the redaction of `code` leaves alone.
  if (typeof e.code === 'string' || typeof e.code === 'number') out.errorCode = e.code;
  if (e.cause !== undefined && depth < MAX_CAUSES) out.cause = serializeError(e.cause, depth + 1);
  if (Array.isArray(e.errors) && depth < MAX_CAUSES) out.errors = e.errors.slice(0, 10).map((x) => serializeError(x, depth + 1));
  return out;
}

/** A copy of a logged value with every secret field censored and every error serialized. */
export function redactSecrets(value: unknown, key?: string, depth = 0, ancestors = new Set<object>()): unknown {
  if (key !== undefined) {
    const name = key.toLowerCase();
    if (SECRET_SET.has(name)) return REDACTED;
    if (URL_SET.has(name) && typeof value === 'string') return withoutPassword(value);
  }
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return serializeError(value);
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value; // dates, buffers
  if (ancestors.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  ancestors.add(value);
  let out: unknown;
  if (Array.isArray(value)) out = value.map((v) => redactSecrets(v, undefined, depth + 1, ancestors));
  else {
    const copy: Record<string, unknown> = {};
    for (const k of Object.keys(value)) copy[k] = redactSecrets((value as Record<string, unknown>)[k], k, depth + 1, ancestors);
    out = copy;
  }
  ancestors.delete(value);
  return out;
}

/** Errors are serialized by the redaction pass; this stands in for pino's own, which copies every field. */
const errorSerializer = (v: unknown) => (v instanceof Error ? serializeError(v) : v);

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    name: 'sealkeep-kms',
    level,
    formatters: { log: (obj: Record<string, unknown>) => redactSecrets(obj) as Record<string, unknown> },
    serializers: { err: errorSerializer, error: errorSerializer },
  };
  return destination ? pino(options, destination) : pino(options);
}
