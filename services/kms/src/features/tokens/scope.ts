// Scopes of delegation: a space-separated list of permission names (auth/permissions.ts), as in
// OAuth's `scope` (RFC 6749 §3.3). A scope limits what a delegation token may be used for; an
// exchange may narrow it, never widen it. No scope means "whatever the holder's role allows".

import { PERMISSIONS, type Permission } from '../../auth/permissions.js';
import { rejected } from './rejection.js';

const SCOPABLE = new Set(Object.keys(PERMISSIONS).filter((p) => p !== 'public'));

/** The permissions a scope string names (sorted, without repeats); null when there is none. */
export function parseScope(scope: unknown): Permission[] | null {
  if (scope === undefined) return null;
  if (typeof scope !== 'string' || scope.length > 1024) return rejected('invalid_scope', 'the scope is not a list of permission names');
  const names = scope.split(' ');
  if (names.some((n) => !SCOPABLE.has(n))) return rejected('invalid_scope', 'the scope names an unknown permission');
  return [...new Set(names)].sort() as Permission[];
}

export function formatScope(scope: readonly Permission[]): string {
  return scope.join(' ');
}

/** The scope an exchange issues: the one asked for, which must lie inside the subject's. */
export function narrowScope(subject: readonly Permission[] | null, requested: readonly Permission[] | null): readonly Permission[] | null {
  if (requested === null) return subject;
  if (subject !== null && requested.some((p) => !subject.includes(p))) return rejected('invalid_scope', "the requested scope is wider than the subject token's");
  return requested;
}
