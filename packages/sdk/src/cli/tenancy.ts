// sealkeep quota / principal — administering who acts in a tenant and how much it may hold:
//   sealkeep quota show [TENANT]                      limits and usage (officer: own tenant; cloud-admin: any)
//   sealkeep quota set TENANT --keys N --vms N --volumes N --volume-bytes N --ops-per-second N
//       a cloud-admin sets the limits named ("none" makes one unlimited), the others stay
//   sealkeep principal keygen --name NAME --role ROLE --url URL [--tenant ID]
//       the new principal makes its own key and profile (not yet active) and prints its public JWK
//   sealkeep principal add --name NAME --role ROLE --public-jwk FILE
//       the tenant's officer (or, for operators, a cloud-admin) enrolls that public key
//   sealkeep principal activate --id PRINCIPAL_ID     the new principal records its id, then checks it
//   sealkeep principal list | revoke ID

import { readFileSync } from 'node:fs';
import { signedRequest } from '../client.js';
import { loadProfile, profileKey, saveProfile, type Profile } from '../profile.js';
import { newKeyPair } from '@sealkeep/crypto';

export const TENANCY_USAGE = `  sealkeep quota show [TENANT_ID]
  sealkeep quota set TENANT_ID [--keys N] [--vms N] [--volumes N] [--volume-bytes N] [--ops-per-second N]   (N or none)
  sealkeep principal keygen --name NAME --role ROLE --url PLANE_URL [--tenant TENANT_ID]
  sealkeep principal add --name NAME --role ROLE --public-jwk FILE
  sealkeep principal activate --id PRINCIPAL_ID
  sealkeep principal list
  sealkeep principal revoke PRINCIPAL_ID`;

export const TENANCY_OPTIONS = {
  keys: { type: 'string' },
  vms: { type: 'string' },
  volumes: { type: 'string' },
  'volume-bytes': { type: 'string' },
  'ops-per-second': { type: 'string' },
  role: { type: 'string' },
  tenant: { type: 'string' },
  'public-jwk': { type: 'string' },
  id: { type: 'string' },
} as const;

export interface TenancyArgs {
  keys?: string | undefined;
  vms?: string | undefined;
  volumes?: string | undefined;
  'volume-bytes'?: string | undefined;
  'ops-per-second'?: string | undefined;
  name?: string | undefined;
  role?: string | undefined;
  url?: string | undefined;
  tenant?: string | undefined;
  'public-jwk'?: string | undefined;
  id?: string | undefined;
}

type Out = (value: unknown, text: string) => void;

const LIMIT_FLAGS = { keys: 'keys', vms: 'vms', volumes: 'volumes', 'volume-bytes': 'volumeBytes', 'ops-per-second': 'opsPerSecond' } as const;
const OPERATOR_ROLES = new Set(['cloud-admin', 'reviewer']);

const signer = (p: Profile) => ({ principalId: p.principalId, key: profileKey(p) });

function endpoint(p: Profile, plane: keyof Profile['endpoints']): string {
  const url = p.endpoints[plane];
  if (!url) throw new Error(`the profile has no ${plane}-plane endpoint`);
  return url;
}

/** Where a profile administers principals: its tenant's, or (a cloud-admin) the operators. */
function principalsAt(p: Profile): { url: string; path: string } {
  if (p.tenantId) return { url: endpoint(p, 'tenant'), path: `/v1/tenants/${p.tenantId}/principals` };
  return { url: endpoint(p, 'admin'), path: '/v1/operators' };
}

function limitValue(flag: string, given: string): number | null {
  if (given === 'none') return null;
  if (!/^\d+$/.test(given)) throw new Error(`--${flag} takes a whole number or "none", not "${given}"`);
  return Number(given);
}

interface QuotaReport {
  tenantId: string;
  limits: Record<string, number | null>;
  usage: Record<string, number>;
  warnings?: string[];
}

function describeQuotas(r: QuotaReport): string {
  const rows = Object.entries(r.limits).map(([name, limit]) => `${name.padEnd(13)} ${String(r.usage[name] ?? '-').padStart(14)} / ${limit === null ? 'unlimited' : limit}`);
  return [`tenant ${r.tenantId}`, `${'limit'.padEnd(13)} ${'in use'.padStart(14)} / limit`, ...rows, ...(r.warnings ?? []).map((w) => `warning: ${w}`)].join('\n');
}

async function quota(verb: string | undefined, target: string | undefined, p: Profile, args: TenancyArgs, out: Out): Promise<void> {
  if (verb === 'show') {
    const tenantId = target ?? p.tenantId;
    if (!tenantId) throw new Error('name the tenant: sealkeep quota show TENANT_ID');
    const r = (await signedRequest(endpoint(p, p.tenantId ? 'tenant' : 'admin'), signer(p), 'GET', `/v1/tenants/${tenantId}/quotas`)) as QuotaReport;
    return out(r, describeQuotas(r));
  }
  if (verb === 'set') {
    if (!target) throw new Error('name the tenant: sealkeep quota set TENANT_ID --keys N …');
    const body: Record<string, number | null> = {};
    for (const [flag, field] of Object.entries(LIMIT_FLAGS)) {
      const given = args[flag as keyof typeof LIMIT_FLAGS];
      if (given !== undefined) body[field] = limitValue(flag, given);
    }
    if (Object.keys(body).length === 0) throw new Error('name at least one limit: --keys, --vms, --volumes, --volume-bytes or --ops-per-second');
    const r = (await signedRequest(endpoint(p, 'admin'), signer(p), 'PUT', `/v1/tenants/${target}/quotas`, body)) as QuotaReport;
    return out(r, describeQuotas(r));
  }
  throw new Error(`unknown command "quota ${verb ?? ''}"\nusage:\n${TENANCY_USAGE}`);
}

interface PrincipalSummary {
  principalId: string;
  name: string;
  role: string;
  status: string;
  keyThumbprint: string;
}

const describePrincipal = (s: PrincipalSummary) => `${s.name}\t${s.role}\t${s.status}\t${s.principalId}\tkey ${s.keyThumbprint}`;

async function principal(verb: string | undefined, target: string | undefined, profilePath: string, args: TenancyArgs, out: Out): Promise<void> {
  if (verb === 'keygen') {
    if (!args.name || !args.role || !args.url) throw new Error('--name, --role and --url are required');
    const plane = OPERATOR_ROLES.has(args.role) ? (args.role === 'reviewer' ? 'compliance' : 'admin') : 'tenant';
    if (plane === 'tenant' && !args.tenant) throw new Error('--tenant TENANT_ID is required for a tenant principal');
    const { privateKey, publicKey } = newKeyPair('ed25519');
    // Not active until its holder records the id the administrator's enrollment answered.
    saveProfile(profilePath, { principalId: '', name: args.name, role: args.role, tenantId: args.tenant ?? null, privateJwk: privateKey.export({ format: 'jwk' }), endpoints: { [plane]: args.url } });
    const jwk = publicKey.export({ format: 'jwk' });
    return out(jwk, `${JSON.stringify(jwk)}\n(the public key: give it to your administrator; the private key stays in ${profilePath})`);
  }
  if (verb === 'activate') {
    if (!args.id) throw new Error('--id PRINCIPAL_ID is required');
    const p = loadProfile(profilePath);
    const activated = { ...p, principalId: args.id };
    const plane = (Object.keys(p.endpoints)[0] ?? 'tenant') as keyof Profile['endpoints'];
    const self = (await signedRequest(endpoint(p, plane), signer(activated), 'GET', '/v1/self')) as { name: string; role: string; tenantId: string | null };
    saveProfile(profilePath, { ...activated, role: self.role, tenantId: self.tenantId });
    return out(self, `${self.name} (${self.role}) is active; credentials in ${profilePath}`);
  }
  const p = loadProfile(profilePath);
  const at = principalsAt(p);
  if (verb === 'add') {
    if (!args.name || !args.role || !args['public-jwk']) throw new Error('--name, --role and --public-jwk FILE are required');
    const publicJwk = JSON.parse(readFileSync(args['public-jwk'], 'utf8')) as Record<string, unknown>;
    const r = (await signedRequest(at.url, signer(p), 'POST', at.path, { name: args.name, role: args.role, publicJwk })) as PrincipalSummary;
    return out(r, `${describePrincipal(r)}\n(give the id to ${r.name}: sealkeep principal activate --id ${r.principalId})`);
  }
  if (verb === 'list') {
    const r = (await signedRequest(at.url, signer(p), 'GET', at.path)) as PrincipalSummary[];
    return out(r, r.map(describePrincipal).join('\n') || '(none)');
  }
  if (verb === 'revoke') {
    if (!target) throw new Error('name the principal: sealkeep principal revoke PRINCIPAL_ID');
    const r = (await signedRequest(at.url, signer(p), 'POST', `${at.path}/${target}/revoke`)) as PrincipalSummary;
    return out(r, describePrincipal(r));
  }
  throw new Error(`unknown command "principal ${verb ?? ''}"\nusage:\n${TENANCY_USAGE}`);
}

export async function tenancyCommand(group: 'quota' | 'principal', verb: string | undefined, target: string | undefined, profilePath: string, args: TenancyArgs, out: Out): Promise<void> {
  if (group === 'quota') return quota(verb, target, loadProfile(profilePath), args, out);
  return principal(verb, target, profilePath, args, out);
}
