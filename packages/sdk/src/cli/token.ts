// sealkeep token — delegation from the command line (OAuth 2.0 Token Exchange, RFC 8693):
//   sealkeep token grant --to LABEL [--scope S] [--ttl 10m]
//       a user lets the delegate LABEL act for them: prints a grant signed with the profile's
//       key (offline; good for one exchange, at most 1 h)
//   sealkeep token exchange --subject-token T|- [--next LABEL] [--scope S] [--plane P]
//       a delegate (tenant plane) or hypervisor adapter (data plane) exchanges a grant or the
//       previous hop's token for its own; `-` reads the subject token from standard input

import { readFileSync } from 'node:fs';
import { delegationGrant, exchangeToken, MAX_GRANT_SECONDS } from '../delegation.js';
import { profileKey, type Profile } from '../profile.js';

export const TOKEN_OPTIONS = {
  to: { type: 'string' },
  scope: { type: 'string' },
  ttl: { type: 'string' },
  'subject-token': { type: 'string' },
  next: { type: 'string' },
} as const;

export const TOKEN_USAGE = `  sealkeep token grant --to LABEL [--scope S] [--ttl 10m]
  sealkeep token exchange --subject-token TOKEN|- [--next LABEL] [--scope S] [--plane tenant|data]`;

export interface TokenArgs {
  to?: string | undefined;
  scope?: string | undefined;
  ttl?: string | undefined;
  'subject-token'?: string | undefined;
  next?: string | undefined;
  plane?: string | undefined;
}

type Out = (value: unknown, text: string) => void;

/** `90`, `90s`, `10m`, `1h` → seconds. */
export function parseTtl(ttl: string): number {
  const m = /^(\d+)([smh]?)$/.exec(ttl);
  if (!m) throw new Error(`--ttl takes a duration such as 90s, 10m or 1h, not "${ttl}"`);
  const seconds = Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600 }[m[2] as '' | 's' | 'm' | 'h'];
  if (seconds < 1 || seconds > MAX_GRANT_SECONDS) throw new Error(`a grant lives 1 s to ${MAX_GRANT_SECONDS / 3600} h`);
  return seconds;
}

function grant(profile: Profile, args: TokenArgs, out: Out): void {
  if (!args.to) throw new Error('--to LABEL is required (the delegate, e.g. cms:vcloud-svc)');
  if (!profile.tenantId) throw new Error('only a principal of a tenant grants delegation');
  const ttlSeconds = parseTtl(args.ttl ?? '10m');
  const token = delegationGrant({ key: profileKey(profile), principalId: profile.principalId, tenantId: profile.tenantId, to: args.to, ttlSeconds, ...(args.scope ? { scope: args.scope } : {}) });
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000).toISOString();
  out({ grant: token, to: args.to, scope: args.scope ?? null, expiresAt }, token);
}

async function exchange(profile: Profile, args: TokenArgs, out: Out): Promise<void> {
  const given = args['subject-token'];
  if (!given) throw new Error('--subject-token TOKEN (or - for standard input) is required');
  const subjectToken = given === '-' ? readFileSync(0, 'utf8').trim() : given;
  const plane = (args.plane ?? (profile.role === 'hypervisor' ? 'data' : 'tenant')) as keyof Profile['endpoints'];
  const url = profile.endpoints[plane];
  if (!url) throw new Error(`the profile has no ${plane}-plane endpoint`);
  const r = await exchangeToken(url, { principalId: profile.principalId, key: profileKey(profile) }, {
    subjectToken,
    ...(args.next ? { nextActor: args.next } : {}),
    ...(args.scope ? { scope: args.scope } : {}),
  });
  out(r, r.accessToken);
}

export async function tokenCommand(verb: string | undefined, profile: Profile, args: TokenArgs, out: Out): Promise<void> {
  if (verb === 'grant') return grant(profile, args, out);
  if (verb === 'exchange') return exchange(profile, args, out);
  throw new Error(`unknown command "token ${verb ?? ''}"\nusage:\n${TOKEN_USAGE}`);
}
