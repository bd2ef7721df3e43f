// Request proofs: every request carries `Authorization: Sealkeep-Proof <compact JWS>`, signed by
// the principal's own key, binding the method, the path and query, the SHA-256 of the body, the
// issue time (accepted within ±300 s) and a unique id. A repeated id is refused; the replay cache
// is in the store, so it holds across restarts and across API nodes.

import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { decodeJws, importPublicJwk, JwsError, verifyJws } from '@sealkeep/crypto';
import { Problem } from '../http/problems.js';
import type { Principal } from '../http/mount.js';
import { findPrincipal } from '../features/principals/store.js';

export const PROOF_SCHEME = 'Sealkeep-Proof';
export const PROOF_TYPE = 'sealkeep-proof+jwt';
export const MAX_SKEW_SECONDS = 300;

export interface ProofClaims {
  htm: string;
  htu: string;
  bdy: string;
  iat: number;
  jti: string;
}

export function bodyDigest(rawBody: Buffer): string {
  return createHash('sha256').update(rawBody).digest('base64url');
}

export interface ProofRequest {
  method: string;
  /** Path and query exactly as sent (`req.originalUrl`). */
  url: string;
  rawBody: Buffer;
  authorization: string | undefined;
}

const refuse = (why: string): never => {
  throw new Problem('unauthenticated', why);
};

/** The principal a request proves to be, or a 401 problem saying why not. */
export async function verifyRequestProof(db: Knex, req: ProofRequest, now = new Date()): Promise<Principal | null> {
  if (!req.authorization) return null;
  const [scheme, token, ...rest] = req.authorization.split(' ');
  if (scheme !== PROOF_SCHEME || !token || rest.length) refuse(`expected "Authorization: ${PROOF_SCHEME} <JWS>"`);
  let jws;
  try {
    jws = decodeJws(token!);
  } catch (e) {
    return refuse(e instanceof JwsError ? e.message : 'malformed proof');
  }
  const { header, payload } = jws;
  if (header.typ !== PROOF_TYPE) refuse(`the proof's typ must be ${PROOF_TYPE}`);
  if (typeof header.kid !== 'string' || !/^[0-9a-f-]{36}$/.test(header.kid)) refuse('the proof names no principal (kid)');
  const c = payload as Partial<ProofClaims>;
  if (typeof c.htm !== 'string' || typeof c.htu !== 'string' || typeof c.bdy !== 'string' || typeof c.iat !== 'number' || typeof c.jti !== 'string') {
    refuse('the proof lacks htm, htu, bdy, iat or jti');
  }
  if (!/^[\w-]{16,64}$/.test(c.jti!)) refuse('jti must be 16–64 URL-safe characters');

  const principal = await findPrincipal(db, header.kid as string);
  if (!principal) return refuse('unknown principal');
  if (!verifyJws(jws, importPublicJwk(principal.public_jwk))) refuse('the proof signature does not verify');
  if (principal.status !== 'active') refuse('the principal is revoked');
  if (c.htm !== req.method.toUpperCase()) refuse('the proof was made for another method');
  if (c.htu !== req.url) refuse('the proof was made for another path or query');
  if (c.bdy !== bodyDigest(req.rawBody)) refuse('the body does not match the proof');
  const skew = Math.abs(now.getTime() / 1000 - c.iat!);
  if (!(skew <= MAX_SKEW_SECONDS)) refuse(`the proof's issue time is more than ${MAX_SKEW_SECONDS} s from the service's clock`);

  // The replay cache: one row per (principal, jti) until the proof could no longer be accepted.
  const expires = new Date((c.iat! + MAX_SKEW_SECONDS) * 1000 + 1000);
  const inserted = await db('request_proofs')
    .insert({ principal_id: principal.principal_id, jti: c.jti, tenant_id: principal.tenant_id, expires_at: expires })
    .onConflict(['principal_id', 'jti'])
    .ignore()
    .returning('jti');
  if (inserted.length === 0) refuse('this proof was already used (replay)');
  return { id: principal.principal_id, role: principal.role, tenantId: principal.tenant_id };
}

/** Drop replay-cache rows whose proofs could no longer be accepted anyway. */
export async function purgeExpiredProofs(db: Knex, now = new Date()): Promise<number> {
  return db('request_proofs').where('expires_at', '<', now).delete();
}
