// An audit entry: its shape, the rules that keep secrets out of it, and how it is sealed into
// the hash chain. The service calls sealEntry() once per significant change, in the same database
// transaction as the change; the offline verifier re-derives every hash with entryHash().
//
//   hash     = SHA-256(canonical(entry without `hash`))          (canonical.ts)
//   prevHash = the previous entry's `hash`; for seq 1, 64 zeros   (GENESIS_HASH)
//   seq      = 1, 2, 3 … without gaps, one chain per log
//
// Secrets never enter the log: `details` holds only strings, finite numbers, booleans and null;
// binary values are refused, and so are strings over 512 characters or that look like encoded key
// material (/^[A-Za-z0-9+/=_-]{43,}$/ — 43 base64url characters carry 256 bits) unless the key
// names a digest (ends in Digest, Fingerprint or Hash). checkEntryShape() and findSecrets() are the
// same rules the verifier applies to an exported log.

import { CanonicalError, canonicalize, sha256Hex } from './canonical.js';

export const AUDIT_PLANES = ['tenant', 'data', 'admin', 'compliance'] as const;
export const AUDIT_OUTCOMES = ['success', 'denied', 'failure'] as const;
export type AuditPlane = (typeof AUDIT_PLANES)[number];
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];
export type AuditDetailValue = string | number | boolean | null;

export interface AuditEntry {
  seq: number;
  /** ISO-8601 UTC, e.g. 2025-01-31T12:00:00.000Z */
  time: string;
  /** null for provider-plane events */
  tenantId: string | null;
  plane: AuditPlane;
  /** who the change is attributed to, e.g. 'tn:acme/alice' */
  principal: string;
  /** the delegation chain, outermost first, e.g. ['tn:bob', 'cms:vcloud-svc', 'hv:vpxuser@host-07'] */
  actorChain: string[];
  action: string;
  resource: string;
  outcome: AuditOutcome;
  requestId: string;
  details?: Record<string, AuditDetailValue>;
  prevHash: string;
  hash: string;
}

/** What the service supplies; seq, prevHash and hash come from the chain. `time` defaults to now. */
export type AuditEntryFields = Omit<AuditEntry, 'seq' | 'prevHash' | 'hash' | 'time'> & { time?: string };

/** The head of a chain: the last sealed entry (or what the service stored of it). */
export interface ChainHead {
  seq: number;
  hash: string;
}

/** prevHash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

export const MAX_STRING_LENGTH = 512;
const KEY_MATERIAL = /^[A-Za-z0-9+/=_-]{43,}$/;
const DIGEST_KEY = /(Digest|Fingerprint|Hash)$/;
const DETAIL_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
export const HEX_256 = /^[0-9a-f]{64}$/;

const ENTRY_KEYS = new Set([
  'seq', 'time', 'tenantId', 'plane', 'principal', 'actorChain', 'action', 'resource', 'outcome',
  'requestId', 'details', 'prevHash', 'hash',
]);

export class AuditEntryError extends Error {
  override name = 'AuditEntryError';
}

/** The entry's hash as it should be: SHA-256 over the canonical form of every field but `hash`. */
export function entryHash(entry: Omit<AuditEntry, 'hash'> | AuditEntry): string {
  const { hash: _ignored, ...rest } = entry as AuditEntry;
  return sha256Hex(canonicalize(rest));
}

/**
 * Seal the next entry of a chain whose head is `prev` (null for the first entry). Throws
 * AuditEntryError, naming the field, when the fields are malformed or `details` looks like it
 * holds a secret — nothing is returned that the verifier would reject.
 */
export function sealEntry(fields: AuditEntryFields, prev: ChainHead | null): AuditEntry {
  if (prev !== null && (!Number.isSafeInteger(prev.seq) || prev.seq < 1 || !HEX_256.test(prev.hash))) {
    throw new AuditEntryError(`prev: chain head must be { seq >= 1, hash: 64 lower-case hex }`);
  }
  const unsealed: Omit<AuditEntry, 'hash'> = {
    seq: prev === null ? 1 : prev.seq + 1,
    time: fields.time ?? new Date().toISOString(),
    tenantId: fields.tenantId,
    plane: fields.plane,
    principal: fields.principal,
    actorChain: [...fields.actorChain],
    action: fields.action,
    resource: fields.resource,
    outcome: fields.outcome,
    requestId: fields.requestId,
    ...(fields.details === undefined ? {} : { details: { ...fields.details } }),
    prevHash: prev === null ? GENESIS_HASH : prev.hash,
  };
  for (const key of Object.keys(fields)) {
    if (!ENTRY_KEYS.has(key) || key === 'seq' || key === 'prevHash' || key === 'hash') {
      throw new AuditEntryError(`${key}: not an audit entry field the service may set`);
    }
  }
  const problems = [...checkEntryShape({ ...unsealed, hash: GENESIS_HASH }), ...findSecrets(unsealed.details)];
  if (problems.length > 0) throw new AuditEntryError(problems.join('; '));
  let hash: string;
  try {
    hash = entryHash(unsealed);
  } catch (e) {
    if (e instanceof CanonicalError) throw new AuditEntryError(e.message);
    throw e;
  }
  return Object.freeze({ ...unsealed, hash }) as AuditEntry;
}

/** Shape problems of a parsed entry, one message per field (empty when well-formed). */
export function checkEntryShape(e: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const bad = (field: string, want: string) => problems.push(`${field}: must be ${want}`);
  const str = (field: string, v: unknown, nullable = false) => {
    if (nullable && v === null) return;
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_STRING_LENGTH) {
      bad(field, `a non-empty string of at most ${MAX_STRING_LENGTH} characters${nullable ? ' or null' : ''}`);
    }
  };
  for (const key of Object.keys(e)) if (!ENTRY_KEYS.has(key)) problems.push(`${key}: unknown field`);
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1) bad('seq', 'an integer >= 1');
  if (typeof e.time !== 'string' || !ISO_UTC.test(e.time) || Number.isNaN(Date.parse(e.time))) {
    bad('time', 'an ISO-8601 UTC time (YYYY-MM-DDTHH:MM:SS[.fff]Z)');
  }
  str('tenantId', e.tenantId, true);
  if (!(AUDIT_PLANES as readonly unknown[]).includes(e.plane)) bad('plane', AUDIT_PLANES.join('|'));
  str('principal', e.principal);
  if (!Array.isArray(e.actorChain) || e.actorChain.length === 0) bad('actorChain', 'a non-empty array of strings');
  else e.actorChain.forEach((a, i) => str(`actorChain[${i}]`, a));
  str('action', e.action);
  str('resource', e.resource);
  if (!(AUDIT_OUTCOMES as readonly unknown[]).includes(e.outcome)) bad('outcome', AUDIT_OUTCOMES.join('|'));
  str('requestId', e.requestId);
  if (e.details !== undefined) {
    const d = e.details;
    if (d === null || typeof d !== 'object' || Array.isArray(d) || ArrayBuffer.isView(d)) {
      bad('details', 'an object of strings, numbers, booleans and null');
    } else {
      for (const [k, v] of Object.entries(d)) {
        if (!DETAIL_KEY.test(k)) bad(`details key ${JSON.stringify(k.slice(0, 70))}`, 'a name matching ' + DETAIL_KEY.source);
        const ok = v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
        if (!ok && !ArrayBuffer.isView(v)) bad(`details.${k}`, 'a string, finite number, boolean or null');
      }
    }
  }
  if (typeof e.prevHash !== 'string' || !HEX_256.test(e.prevHash)) bad('prevHash', '64 lower-case hex digits');
  if (typeof e.hash !== 'string' || !HEX_256.test(e.hash)) bad('hash', '64 lower-case hex digits');
  return problems;
}

/** Values in `details` that may be secrets (binary, too long, or shaped like encoded key material). */
export function findSecrets(details: unknown): string[] {
  if (details === null || typeof details !== 'object' || Array.isArray(details)) return [];
  const found: string[] = [];
  for (const [key, v] of Object.entries(details)) {
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      found.push(`details.${key}: binary values are refused (key material never enters the audit log)`);
    } else if (typeof v === 'string' && v.length > MAX_STRING_LENGTH) {
      found.push(`details.${key}: ${v.length} characters is over ${MAX_STRING_LENGTH} (may be key material)`);
    } else if (typeof v === 'string' && KEY_MATERIAL.test(v) && !DIGEST_KEY.test(key)) {
      found.push(`details.${key}: looks like encoded key material; only *Digest, *Fingerprint and *Hash fields may hold such values`);
    }
  }
  return found;
}
