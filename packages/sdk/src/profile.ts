// The credential profile: a principal's id, its private key (JWK) and the service's endpoints,
// in one file readable only by its owner (mode 0600). Written atomically; refused when loose.

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { importPrivateJwk } from '@sealkeep/crypto';

export interface Profile {
  principalId: string;
  name: string;
  role: string;
  tenantId: string | null;
  privateJwk: JsonWebKey;
  /** Base URLs of the planes this principal uses, e.g. { tenant: 'http://127.0.0.1:7410' }. */
  endpoints: Partial<Record<'tenant' | 'data' | 'admin' | 'compliance', string>>;
}

export function defaultProfilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SEALKEEP_PROFILE || path.join(os.homedir(), '.config', 'sealkeep', 'profile.json');
}

export function saveProfile(file: string, profile: Profile): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(profile, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function loadProfile(file: string): Profile {
  if (!existsSync(file)) throw new Error(`no profile at ${file} (run "sealkeep admin init" or "sealkeep enroll" first)`);
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw new Error(`${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
  return JSON.parse(readFileSync(file, 'utf8')) as Profile;
}

export function profileKey(p: Profile): KeyObject {
  return importPrivateJwk(p.privateJwk);
}
