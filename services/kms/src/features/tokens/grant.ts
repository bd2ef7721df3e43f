// User grants: the subject token of a delegation's first hop. A user signs it with their own
// principal key (ES256 or EdDSA, like a request proof) to let one named delegate act for them:
//
//   header { typ: 'sealkeep-grant+jwt', kid: <the user's principal id> }
//   claims { sub: <principal id>, tenant, may_act: { sub: 'cms:vcloud-svc' },
//            scope?: 'key.use vm.register', iat, exp (≤ 1 h after iat), jti }
//
// It is checked against the user's stored public key; the user must be an active tenant-admin or
// tenant-user of that tenant and hold every permission in its scope. One exchange per grant (the
// exchange records its jti).

import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { decodeJws, importPublicJwk, JwsError, verifyJws, type DecodedJws } from '@sealkeep/crypto';
import { roleHolds, type Permission, type Role } from '../../auth/permissions.js';
import { MAX_SKEW_SECONDS } from '../../auth/request-proof.js';
import { findPrincipal, type PrincipalRow } from '../principals/store.js';
import { rejected } from './rejection.js';
import { parseScope } from './scope.js';
import { LABEL } from './service-token.js';

export const GRANT_TOKEN_TYPE = 'sealkeep-grant+jwt';
export const MAX_GRANT_SECONDS = 3600;
/** Who may grant: the tenant's people, not its services. */
const GRANTING_ROLES: ReadonlySet<Role> = new Set(['tenant-admin', 'tenant-user']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const JTI = /^[\w-]{16,64}$/;

export interface GrantClaims {
  sub: string;
  tenant: string;
  may_act: { sub: string };
  scope?: string;
  iat: number;
  exp: number;
  jti: string;
}

export interface VerifiedGrant {
  claims: GrantClaims;
  user: PrincipalRow;
  scope: Permission[] | null;
}

function decode(token: string): DecodedJws {
  try {
    return decodeJws(token);
  } catch (e) {
    return rejected('invalid_grant', e instanceof JwsError ? 'the grant is not a compact JWS' : 'the grant is malformed');
  }
}

function wellFormed(c: Partial<GrantClaims>, kid: unknown): c is GrantClaims {
  return (
    typeof c.sub === 'string' && c.sub === kid && UUID.test(c.sub) &&
    typeof c.tenant === 'string' && UUID.test(c.tenant) &&
    typeof c.may_act?.sub === 'string' && LABEL.test(c.may_act.sub) &&
    Number.isSafeInteger(c.iat) && Number.isSafeInteger(c.exp) &&
    typeof c.jti === 'string' && JTI.test(c.jti)
  );
}

/** A grant its user signed, unexpired, within its limits; or a rejection saying why not. */
export async function verifyGrant(db: Knex, token: string, now: Date): Promise<VerifiedGrant> {
  const jws = decode(token);
  if (jws.header.typ !== GRANT_TOKEN_TYPE) rejected('invalid_grant', `the grant's typ is not ${GRANT_TOKEN_TYPE}`);
  const c = jws.payload as Partial<GrantClaims>;
  if (!wellFormed(c, jws.header.kid)) return rejected('invalid_grant', 'the grant lacks or malforms a required claim');
  // The tenant named is not yet trusted; looking the user up inside it finds no one of another tenant.
  const user = await inTenant(db, c.tenant, (trx) => findPrincipal(trx, c.sub));
  if (!user || user.tenant_id !== c.tenant || !verifyJws(jws, importPublicJwk(user.public_jwk))) {
    return rejected('invalid_grant', 'the grant was not signed by the user it names');
  }
  if (user.status !== 'active' || !GRANTING_ROLES.has(user.role)) rejected('invalid_grant', 'the user of the grant may not delegate');
  const seconds = now.getTime() / 1000;
  if (c.exp <= c.iat || c.exp - c.iat > MAX_GRANT_SECONDS) rejected('invalid_grant', `a grant lives at most ${MAX_GRANT_SECONDS} s`);
  if (c.iat > seconds + MAX_SKEW_SECONDS) rejected('invalid_grant', 'the grant was issued in the future');
  if (c.exp <= seconds) rejected('invalid_grant', 'the grant has expired');
  const scope = parseScope(c.scope);
  if (scope?.some((p) => !roleHolds(user.role, p))) rejected('invalid_scope', "the grant's scope includes a permission its user does not hold");
  return { claims: c, user, scope };
}
