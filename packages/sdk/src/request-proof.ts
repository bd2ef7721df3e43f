// Signing requests as a Sealkeep principal: the compact JWS the service's tenant, data, admin
// and compliance planes expect in `Authorization: Sealkeep-Proof <JWS>`.

import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { publicJwk, signJws } from '@sealkeep/crypto';

export interface ProofInput {
  key: KeyObject;
  principalId: string;
  method: string;
  /** Path and query exactly as they will be sent, e.g. `/v1/tenants/acme/keys?limit=10`. */
  url: string;
  body?: Buffer | string;
  /** Seconds since the epoch (default now). */
  iat?: number;
  jti?: string;
}

export function requestProof(p: ProofInput): string {
  const body = p.body === undefined ? Buffer.alloc(0) : Buffer.from(p.body);
  return signJws(p.key, { typ: 'sealkeep-proof+jwt', kid: p.principalId }, {
    htm: p.method.toUpperCase(),
    htu: p.url,
    bdy: createHash('sha256').update(body).digest('base64url'),
    iat: p.iat ?? Math.floor(Date.now() / 1000),
    jti: p.jti ?? randomBytes(18).toString('base64url'),
  });
}

export function authorizationHeader(p: ProofInput): string {
  return `Sealkeep-Proof ${requestProof(p)}`;
}

/**
 * A proof by a key the service does not know yet (enrollment): the public key travels in the
 * JWS header, and the signature shows the caller holds the private half.
 */
export function selfSignedAuthorizationHeader(p: Omit<ProofInput, 'principalId'>): string {
  const body = p.body === undefined ? Buffer.alloc(0) : Buffer.from(p.body);
  const token = signJws(p.key, { typ: 'sealkeep-proof+jwt', jwk: publicJwk(p.key) }, {
    htm: p.method.toUpperCase(),
    htu: p.url,
    bdy: createHash('sha256').update(body).digest('base64url'),
    iat: p.iat ?? Math.floor(Date.now() / 1000),
    jti: p.jti ?? randomBytes(18).toString('base64url'),
  });
  return `Sealkeep-Proof ${token}`;
}
