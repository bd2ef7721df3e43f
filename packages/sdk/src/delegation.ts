// Delegation from the client's side (OAuth 2.0 Token Exchange, RFC 8693):
//   delegationGrant()  a user lets one named delegate act for them: a grant signed with the
//                      user's own key (typ sealkeep-grant+jwt), good for one exchange, ≤ 1 h
//   exchangeToken()    a delegate or hypervisor adapter exchanges a grant or the previous hop's
//                      delegation token for one bound to its own key (POST /v1/token, a form)
// A signer with `delegation: accessToken` (client.ts) then acts for the token's subject.

import { randomBytes, type KeyObject } from 'node:crypto';
import { decodeJws, signJws } from '@sealkeep/crypto';
import { sendRequest, type Signer } from './client.js';

export const GRANT_TOKEN_TYPE = 'sealkeep-grant+jwt';
export const DELEGATION_TOKEN_TYPE = 'sealkeep-delegation+jwt';
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const MAX_GRANT_SECONDS = 3600;
const DEFAULT_GRANT_SECONDS = 600;

export interface GrantInput {
  /** The user's own private key and principal id. */
  key: KeyObject;
  principalId: string;
  tenantId: string;
  /** The label of the delegate who may exchange the grant, e.g. `cms:vcloud-svc`. */
  to: string;
  /** Permission names the delegation is limited to (space-separated or a list); none: no limit. */
  scope?: string | readonly string[];
  /** Lifetime in seconds (default 600, at most 3600). */
  ttlSeconds?: number;
  /** Issue time, seconds since the epoch (default now). */
  iat?: number;
  jti?: string;
}

export function delegationGrant(g: GrantInput): string {
  const ttl = g.ttlSeconds ?? DEFAULT_GRANT_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_GRANT_SECONDS) throw new RangeError(`a grant lives 1 to ${MAX_GRANT_SECONDS} seconds`);
  const scope = typeof g.scope === 'string' ? g.scope : g.scope?.join(' ');
  const iat = g.iat ?? Math.floor(Date.now() / 1000);
  return signJws(g.key, { typ: GRANT_TOKEN_TYPE, kid: g.principalId }, {
    sub: g.principalId,
    tenant: g.tenantId,
    may_act: { sub: g.to },
    ...(scope ? { scope } : {}),
    iat,
    exp: iat + ttl,
    jti: g.jti ?? randomBytes(18).toString('base64url'),
  });
}

/** The RFC 8693 token type of a Sealkeep token, from its JWS header. */
export function subjectTokenTypeOf(token: string): string {
  const typ = decodeJws(token).header.typ;
  if (typ === GRANT_TOKEN_TYPE) return JWT_TOKEN_TYPE;
  if (typ === DELEGATION_TOKEN_TYPE) return ACCESS_TOKEN_TYPE;
  throw new Error('not a Sealkeep grant or delegation token');
}

export interface ExchangeInput {
  subjectToken: string;
  /** Default: from the token's typ (a grant is a JWT, a delegation token an access token). */
  subjectTokenType?: string;
  /** Narrow the delegation to these permission names. */
  scope?: string;
  /** The label of who may exchange the issued token next, e.g. `hv:vpxuser@host-07`. */
  nextActor?: string;
}

export interface ExchangedToken {
  accessToken: string;
  issuedTokenType: string;
  expiresIn: number;
  scope?: string;
}

/** Exchange a subject token for a delegation token of `signer`'s (POST /v1/token). */
export async function exchangeToken(baseUrl: string, signer: Signer, input: ExchangeInput): Promise<ExchangedToken> {
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: input.subjectToken,
    subject_token_type: input.subjectTokenType ?? subjectTokenTypeOf(input.subjectToken),
    ...(input.scope ? { scope: input.scope } : {}),
    ...(input.nextActor ? { next_actor: input.nextActor } : {}),
  });
  // The exchange is made in the caller's own name, never under a delegation it already holds.
  const own: Signer = { principalId: signer.principalId, key: signer.key };
  const r = (await sendRequest(baseUrl, own, 'POST', '/v1/token', { bytes: form.toString(), contentType: 'application/x-www-form-urlencoded' })) as {
    access_token: string;
    issued_token_type: string;
    expires_in: number;
    scope?: string;
  };
  return { accessToken: r.access_token, issuedTokenType: r.issued_token_type, expiresIn: r.expires_in, ...(r.scope ? { scope: r.scope } : {}) };
}
