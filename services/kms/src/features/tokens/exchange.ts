// OAuth 2.0 Token Exchange (RFC 8693) for delegation. The caller — a delegate (cloud-management
// service) or a hypervisor adapter — authenticates with its own request proof and presents a
// subject token: a user's grant (first hop) or a delegation token from the previous hop. It gets
// a delegation token bound to its own key, recording the chain with itself as the newest hop.
//
// Refused unless: the subject token verifies and is unexpired; it names the caller in may_act;
// a delegate caller belongs to the subject's tenant (a hypervisor is provider-side and may act for
// any tenant); the subject is still an active principal; a requested scope lies within the
// subject's; and the subject token was never exchanged before. Each exchange is audited in the
// subject's tenant chain with the new chain as its actorChain.

import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import type { TokenKey } from '../../auth/token-key.js';
import type { Permission } from '../../auth/permissions.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { principalLabel, type Principal } from '../../http/mount.js';
import { findPrincipal } from '../principals/store.js';
import { verifyGrant } from './grant.js';
import { exchangeRefused, rejected, TokenRejected } from './rejection.js';
import { formatScope, narrowScope, parseScope } from './scope.js';
import { issueDelegationToken, MAX_CHAIN, MAX_TOKEN_SECONDS, verifyDelegationToken } from './service-token.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** A user's grant is a JWT; a delegation token from an earlier hop is an access token. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** The form parameters of an exchange (RFC 8693 §2.1), plus `next_actor` (Sealkeep's). */
export interface ExchangeParams {
  grant_type: string;
  subject_token: string;
  subject_token_type: string;
  scope?: string | undefined;
  /** The label of who may exchange the issued token next; becomes its may_act. */
  next_actor?: string | undefined;
  requested_token_type?: string | undefined;
}

/** RFC 8693 §2.2.1. */
export interface ExchangeResponse {
  access_token: string;
  issued_token_type: typeof JWT_TOKEN_TYPE;
  token_type: 'N_A';
  expires_in: number;
  scope?: string;
}

/** A verified subject token, whichever kind it was. */
interface Subject {
  kind: 'grant' | 'delegation';
  subjectId: string;
  tenantId: string;
  /** Subject first, then the hops so far. */
  chain: string[];
  mayAct: string | null;
  scope: readonly Permission[] | null;
  exp: number;
  jti: string;
}

async function subjectOf(db: Knex, key: TokenKey, params: ExchangeParams, now: Date): Promise<Subject> {
  if (params.subject_token_type === JWT_TOKEN_TYPE) {
    const { claims, user, scope } = await verifyGrant(db, params.subject_token, now);
    return { kind: 'grant', subjectId: user.principal_id, tenantId: claims.tenant, chain: [principalLabel(user)], mayAct: claims.may_act.sub, scope, exp: claims.exp, jti: claims.jti };
  }
  if (params.subject_token_type === ACCESS_TOKEN_TYPE) {
    const { claims, chain, scope } = verifyDelegationToken(key, params.subject_token, now);
    return { kind: 'delegation', subjectId: claims.sub_id, tenantId: claims.tenant, chain, mayAct: claims.may_act?.sub ?? null, scope, exp: claims.exp, jti: claims.jti };
  }
  return rejected('invalid_request', `subject_token_type must be ${JWT_TOKEN_TYPE} (a user's grant) or ${ACCESS_TOKEN_TYPE} (a delegation token)`);
}

/** Each kind of caller exchanges on its own plane (a hypervisor never uses the tenant plane). */
const EXCHANGE_PLANE: Partial<Record<Principal['role'], AuditActor['plane']>> = { delegate: 'tenant', hypervisor: 'data' };

function checkCaller(caller: Principal, subject: Subject): string {
  const label = principalLabel(caller);
  if (subject.mayAct === null) rejected('invalid_grant', 'the subject token may not be exchanged further');
  if (subject.mayAct !== label) rejected('invalid_grant', 'the subject token names another actor');
  // A delegate serves its own tenant; a hypervisor is provider-side and serves any (the data
  // plane checks where the VM runs).
  if (caller.role !== 'hypervisor' && caller.tenantId !== subject.tenantId) rejected('invalid_grant', "the subject belongs to another tenant than the caller's");
  if (subject.chain.length + 1 > MAX_CHAIN) rejected('invalid_request', `a delegation chain holds at most ${MAX_CHAIN} principals`);
  return label;
}

async function exchange(db: Knex, key: TokenKey, caller: Principal, actor: AuditActor, params: ExchangeParams, now: Date): Promise<ExchangeResponse> {
  if (caller.delegation) rejected('invalid_request', 'an exchange is made in the caller\'s own name: send the delegation token as subject_token');
  if (params.grant_type !== TOKEN_EXCHANGE_GRANT) rejected('unsupported_grant_type', `grant_type must be ${TOKEN_EXCHANGE_GRANT}`);
  if (params.requested_token_type !== undefined && params.requested_token_type !== JWT_TOKEN_TYPE) rejected('invalid_request', `only ${JWT_TOKEN_TYPE} tokens are issued`);
  if (EXCHANGE_PLANE[caller.role] !== actor.plane) rejected('invalid_request', 'delegates exchange tokens on the tenant plane, hypervisors on the data plane');
  if (!caller.keyThumbprint) rejected('invalid_request', "the caller's key is not known, so no token can be bound to it");
  const subject = await subjectOf(db, key, params, now);
  const holder = checkCaller(caller, subject);
  const scope = narrowScope(subject.scope, parseScope(params.scope));
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const exp = Math.min(nowSeconds + MAX_TOKEN_SECONDS, subject.exp);
  const chain = [...subject.chain, holder];
  const nextActor = params.next_actor ?? null;
  const issued = issueDelegationToken(key, { chain, subjectId: subject.subjectId, tenantId: subject.tenantId, holderKeyThumbprint: caller.keyThumbprint!, mayAct: nextActor, scope, exp }, now);

  await inTenant(db, subject.tenantId, async (trx) => {
    const user = await findPrincipal(trx, subject.subjectId);
    if (!user || user.status !== 'active') rejected('invalid_grant', 'the subject is no longer an active principal');
    // One exchange per subject token: its id joins the replay cache until the token expires.
    const spent = await trx('request_proofs')
      .insert({ principal_id: subject.subjectId, jti: `${subject.kind}:${subject.jti}`, tenant_id: subject.tenantId, expires_at: new Date(subject.exp * 1000 + 1000) })
      .onConflict(['principal_id', 'jti'])
      .ignore()
      .returning('jti');
    if (spent.length === 0) rejected('invalid_grant', 'the subject token was already exchanged');
    await appendAudit(trx, { ...actor, actorChain: chain }, {
      tenantId: subject.tenantId,
      action: 'token.exchange',
      resource: `principal:${user!.name}`,
      outcome: 'success',
      details: {
        tokenId: issued.claims.jti,
        subjectTokenKind: subject.kind,
        scope: scope ? formatScope(scope) : null,
        nextActor,
        expiresAt: new Date(exp * 1000).toISOString(),
        holderKeyFingerprint: caller.keyThumbprint!,
      },
    });
  });

  return {
    access_token: issued.token,
    issued_token_type: JWT_TOKEN_TYPE,
    token_type: 'N_A',
    expires_in: exp - nowSeconds,
    ...(scope ? { scope: formatScope(scope) } : {}),
  };
}

/** Exchange a subject token for a delegation token of the caller's; refusals are RFC 9457 problems. */
export async function exchangeToken(db: Knex, key: TokenKey, caller: Principal, actor: AuditActor, params: ExchangeParams, now = new Date()): Promise<ExchangeResponse> {
  try {
    return await exchange(db, key, caller, actor, params, now);
  } catch (e) {
    if (e instanceof TokenRejected) throw exchangeRefused(e);
    throw e;
  }
}
