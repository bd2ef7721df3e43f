// Delegation tokens: what a token exchange issues. A compact JWS (ES256, typ
// sealkeep-delegation+jwt) signed by the service's token key (auth/token-key.ts):
//
//   { iss: 'sealkeep', sub: 'tn:bob', sub_id, tenant,
//     act: { sub: 'hv:vpxuser@host-07', act: { sub: 'cms:vcloud-svc' } },   current holder outermost
//     cnf: { jkt },                  RFC 7638 thumbprint of the holder's key (RFC 7800 / RFC 9449)
//     may_act?: { sub },             who may exchange it for the next hop
//     scope?, iat, exp, jti }
//
// The chain it records reads subject first, then every hop in order:
// ['tn:bob', 'cms:vcloud-svc', 'hv:vpxuser@host-07'].

import { randomUUID } from 'node:crypto';
import { decodeJws, JwsError, signJws, verifyJws, type DecodedJws } from '@sealkeep/crypto';
import type { Permission } from '../../auth/permissions.js';
import type { TokenKey } from '../../auth/token-key.js';
import { rejected } from './rejection.js';
import { formatScope, parseScope } from './scope.js';

export const DELEGATION_TOKEN_TYPE = 'sealkeep-delegation+jwt';
export const ISSUER = 'sealkeep';
/** The longest a delegation token lives; it never outlives the token it was exchanged for. */
export const MAX_TOKEN_SECONDS = 300;
/** The longest chain a token may record, subject included. */
export const MAX_CHAIN = 8;

/** A principal's label as the audit trail writes it (http/mount.ts principalLabel). */
export const LABEL = /^[a-z]{2,3}:[A-Za-z0-9][\w.@-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

export interface ActClaim {
  sub: string;
  act?: ActClaim;
}

export interface DelegationClaims {
  iss: typeof ISSUER;
  sub: string;
  sub_id: string;
  tenant: string;
  act: ActClaim;
  cnf: { jkt: string };
  may_act?: { sub: string };
  scope?: string;
  iat: number;
  exp: number;
  jti: string;
}

/** RFC 8693 §4.1: the current actor outermost, each earlier one nested inside. `hops` is oldest first. */
export function actClaim(hops: readonly string[]): ActClaim {
  let act: ActClaim | undefined;
  for (const sub of hops) act = act ? { sub, act } : { sub };
  if (!act) throw new Error('a delegation has at least one hop');
  return act;
}

/** The hops an `act` claim records, oldest first; null when it is not a well-formed chain. */
function hopsOf(act: unknown): string[] | null {
  const newestFirst: string[] = [];
  let at = act;
  while (at !== undefined) {
    if (typeof at !== 'object' || at === null || newestFirst.length >= MAX_CHAIN) return null;
    const { sub, act: inner, ...rest } = at as Record<string, unknown>;
    if (typeof sub !== 'string' || !LABEL.test(sub) || Object.keys(rest).length) return null;
    newestFirst.push(sub);
    at = inner;
  }
  return newestFirst.length ? newestFirst.reverse() : null;
}

export interface IssueInput {
  /** Labels: the subject, every earlier hop, and last the holder this token is issued to. */
  chain: readonly string[];
  subjectId: string;
  tenantId: string;
  holderKeyThumbprint: string;
  mayAct: string | null;
  scope: readonly Permission[] | null;
  /** Seconds since the epoch. */
  exp: number;
}

export function issueDelegationToken(key: TokenKey, input: IssueInput, now: Date): { token: string; claims: DelegationClaims } {
  const [sub, ...hops] = input.chain;
  const claims: DelegationClaims = {
    iss: ISSUER,
    sub: sub!,
    sub_id: input.subjectId,
    tenant: input.tenantId,
    act: actClaim(hops),
    cnf: { jkt: input.holderKeyThumbprint },
    ...(input.mayAct ? { may_act: { sub: input.mayAct } } : {}),
    ...(input.scope ? { scope: formatScope(input.scope) } : {}),
    iat: Math.floor(now.getTime() / 1000),
    exp: input.exp,
    jti: randomUUID(),
  };
  return { token: signJws(key.privateKey, { typ: DELEGATION_TOKEN_TYPE, kid: key.kid }, claims), claims };
}

export interface VerifiedDelegation {
  claims: DelegationClaims;
  /** Subject first, then every hop; the holder last. */
  chain: string[];
  scope: Permission[] | null;
}

function decode(token: string): DecodedJws {
  try {
    return decodeJws(token);
  } catch (e) {
    return rejected('invalid_grant', e instanceof JwsError ? 'the delegation token is not a compact JWS' : 'the delegation token is malformed');
  }
}

/** A delegation token this service signed, still valid, with a well-formed chain; or a rejection. */
export function verifyDelegationToken(key: TokenKey, token: string, now: Date): VerifiedDelegation {
  const jws = decode(token);
  if (jws.header.typ !== DELEGATION_TOKEN_TYPE) rejected('invalid_grant', `the token's typ is not ${DELEGATION_TOKEN_TYPE}`);
  if (jws.header.kid !== key.kid || !verifyJws(jws, key.publicKey)) rejected('invalid_grant', 'the delegation token was not signed by this service');
  const c = jws.payload as Partial<DelegationClaims>;
  if (c.iss !== ISSUER) rejected('invalid_grant', 'the delegation token has another issuer');
  const fieldsOk =
    typeof c.sub === 'string' && LABEL.test(c.sub) &&
    typeof c.sub_id === 'string' && UUID.test(c.sub_id) &&
    typeof c.tenant === 'string' && UUID.test(c.tenant) &&
    typeof c.cnf?.jkt === 'string' && THUMBPRINT.test(c.cnf.jkt) &&
    (c.may_act === undefined || (typeof c.may_act?.sub === 'string' && LABEL.test(c.may_act.sub))) &&
    Number.isSafeInteger(c.iat) && Number.isSafeInteger(c.exp) && typeof c.jti === 'string';
  const hops = hopsOf(c.act);
  if (!fieldsOk || !hops || hops.length + 1 > MAX_CHAIN) return rejected('invalid_grant', 'the delegation token lacks or malforms a required claim');
  if (c.exp! <= now.getTime() / 1000) rejected('invalid_grant', 'the delegation token has expired');
  const scope = parseScope(c.scope);
  return { claims: c as DelegationClaims, chain: [c.sub!, ...hops], scope };
}
