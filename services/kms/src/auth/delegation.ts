// Delegated requests: a holder of a delegation token (features/tokens) sends its own request
// proof as always, plus `Sealkeep-Delegation: <token>`. The token must verify (this service's
// signature, issuer, type, unexpired), be bound to the key that signed the proof (cnf.jkt), name
// the caller as its newest hop, and its subject must still be active. The principal then carries
// the delegation: authorization (http/mount.ts) keeps the request inside the subject's tenant and
// the token's scope, and the audit entry records the whole chain. Without the header nothing
// changes; a token whose holder's proof fails (e.g. the holder is revoked) fails with it.

import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { Problem } from '../http/problems.js';
import { principalLabel, type Authenticator, type Delegation, type Principal } from '../http/mount.js';
import { findPrincipal } from '../features/principals/store.js';
import { TokenRejected } from '../features/tokens/rejection.js';
import { verifyDelegationToken } from '../features/tokens/service-token.js';
import type { TokenKey } from './token-key.js';

export const DELEGATION_HEADER = 'Sealkeep-Delegation';

const refuse = (why: string): never => {
  throw new Problem('unauthenticated', why);
};

/** The delegation a token grants its holder `principal`, or a 401 saying why not. */
export async function verifyDelegation(db: Knex, key: TokenKey, principal: Principal, token: string, now = new Date()): Promise<Delegation> {
  let verified;
  try {
    verified = verifyDelegationToken(key, token.trim(), now);
  } catch (e) {
    if (e instanceof TokenRejected) return refuse(`delegation: ${e.message}`);
    throw e;
  }
  const { claims, chain, scope } = verified;
  if (!principal.keyThumbprint || claims.cnf.jkt !== principal.keyThumbprint) refuse('delegation: the token is bound to another key than the one that signed the request');
  if (chain[chain.length - 1] !== principalLabel(principal)) refuse('delegation: the token was issued to another principal');
  const subject = await inTenant(db, claims.tenant, (trx) => findPrincipal(trx, claims.sub_id));
  if (!subject || subject.status !== 'active') refuse('delegation: its subject is no longer an active principal');
  return { tenantId: claims.tenant, chain, scope };
}

/** The request's principal as `authenticate` proves it, with the delegation it presents, if any. */
export function withDelegation(authenticate: Authenticator, db: Knex, key: TokenKey): Authenticator {
  return async (req) => {
    const principal = await authenticate(req);
    const token = req.header(DELEGATION_HEADER);
    if (token === undefined) return principal;
    if (!principal) return refuse('a delegation token is presented with its holder\'s request proof');
    return { ...principal, delegation: await verifyDelegation(db, key, principal, token) };
  };
}
