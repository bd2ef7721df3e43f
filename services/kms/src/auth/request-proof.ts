// Request proofs: every request carries `Authorization: Sealkeep-Proof <compact JWS>`, signed by
// the principal's own key, binding the method, the path and query, the SHA-256 of the body, the
// issue time (accepted within ±300 s) and a unique id. A repeated id is refused; the replay cache
// is in the store, so it holds across restarts and across API nodes.

import { createHash, type JsonWebKey } from 'node:crypto';
import type { Knex } from 'knex';
import { asSystem, inScope } from '@sealkeep/store';
import { decodeJws, importPublicJwk, JwsError, jwkThumbprint, publicJwk, verifyJws, type DecodedJws } from '@sealkeep/crypto';
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

/** Parse the Authorization header into a JWS of the proof type, or refuse. */
function proofToken(req: ProofRequest): DecodedJws {
  const [scheme, token, ...rest] = (req.authorization ?? '').split(' ');
  if (scheme !== PROOF_SCHEME || !token || rest.length) refuse(`expected "Authorization: ${PROOF_SCHEME} <JWS>"`);
  let jws: DecodedJws;
  try {
    jws = decodeJws(token!);
  } catch (e) {
    return refuse(e instanceof JwsError ? e.message : 'malformed proof');
  }
  if (jws.header.typ !== PROOF_TYPE) refuse(`the proof's typ must be ${PROOF_TYPE}`);
  return jws;
}

/** The claims every proof must carry and bind: method, path and query, body, time, id. */
function checkClaims(jws: DecodedJws, req: ProofRequest, now: Date): ProofClaims {
  const c = jws.payload as Partial<ProofClaims>;
  if (typeof c.htm !== 'string' || typeof c.htu !== 'string' || typeof c.bdy !== 'string' || typeof c.iat !== 'number' || typeof c.jti !== 'string') {
    refuse('the proof lacks htm, htu, bdy, iat or jti');
  }
  if (!/^[\w-]{16,64}$/.test(c.jti!)) refuse('jti must be 16–64 URL-safe characters');
  if (c.htm !== req.method.toUpperCase()) refuse('the proof was made for another method');
  if (c.htu !== req.url) refuse('the proof was made for another path or query');
  if (c.bdy !== bodyDigest(req.rawBody)) refuse('the body does not match the proof');
  const skew = Math.abs(now.getTime() / 1000 - c.iat!);
  if (!(skew <= MAX_SKEW_SECONDS)) refuse(`the proof's issue time is more than ${MAX_SKEW_SECONDS} s from the service's clock`);
  return c as ProofClaims;
}

/** The principal a request proves to be, or a 401 problem saying why not. */
export async function verifyRequestProof(db: Knex, req: ProofRequest, now = new Date()): Promise<Principal | null> {
  if (!req.authorization) return null;
  const jws = proofToken(req);
  const kid = jws.header.kid;
  if (typeof kid !== 'string' || !/^[0-9a-f-]{36}$/.test(kid)) refuse('the proof names no principal (kid)');
  const principal = await asSystem(db, 'authenticate: the tenant is known only from the principal', (trx) => findPrincipal(trx, kid as string));
  if (!principal) return refuse('unknown principal');
  if (!verifyJws(jws, importPublicJwk(principal.public_jwk))) refuse('the proof signature does not verify');
  if (principal.status !== 'active') refuse('the principal is revoked');
  const c = checkClaims(jws, req, now);

  // The replay cache: one row per (principal, jti) until the proof could no longer be accepted.
  const expires = new Date((c.iat + MAX_SKEW_SECONDS) * 1000 + 1000);
  const inserted = await inScope(db, principal.tenant_id, (trx) =>
    trx('request_proofs')
      .insert({ principal_id: principal.principal_id, jti: c.jti, tenant_id: principal.tenant_id, expires_at: expires })
      .onConflict(['principal_id', 'jti'])
      .ignore()
      .returning('jti'),
  );
  if (inserted.length === 0) refuse('this proof was already used (replay)');
  const keyThumbprint = jwkThumbprint(principal.public_jwk);
  return { id: principal.principal_id, name: principal.name, role: principal.role, tenantId: principal.tenant_id, keyThumbprint };
}

/**
 * A proof signed by a key the service does not know yet (enrollment): the public key travels in
 * the JWS header (`jwk`), and the signature proves the caller holds its private half.
 */
export function verifySelfSignedProof(req: ProofRequest, now = new Date()): { publicJwk: JsonWebKey } {
  const jws = proofToken(req);
  const jwk = jws.header.jwk as JsonWebKey | undefined;
  if (!jwk || typeof jwk !== 'object') refuse('an enrollment proof carries its public key in the header (jwk)');
  let key;
  try {
    key = importPublicJwk(jwk!);
  } catch (e) {
    return refuse(e instanceof JwsError ? e.message : 'unusable public key');
  }
  if (!verifyJws(jws, key)) refuse('the proof signature does not verify');
  checkClaims(jws, req, now);
  return { publicJwk: publicJwk(key) };
}

/** Drop replay-cache rows whose proofs could no longer be accepted anyway. */
export async function purgeExpiredProofs(db: Knex, now = new Date()): Promise<number> {
  return asSystem(db, 'housekeeping: expired proofs of every tenant', (trx) => trx('request_proofs').where('expires_at', '<', now).delete());
}
