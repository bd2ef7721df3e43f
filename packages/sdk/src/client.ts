// The Sealkeep HTTP client: every request signed with the principal's key (request proofs),
// problem responses turned into SealkeepError with the problem's type and detail.

import type { KeyObject } from 'node:crypto';
import { authorizationHeader, selfSignedAuthorizationHeader } from './request-proof.js';

export class SealkeepError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly detail: string | undefined,
    readonly problem: Record<string, unknown>,
  ) {
    super(`${status} ${type.replace('https://sealkeep.dev/problems/', '')}${detail ? `: ${detail}` : ''}`);
    this.name = 'SealkeepError';
  }
}

export interface Signer {
  principalId: string;
  key: KeyObject;
}

async function call(baseUrl: string, method: string, url: string, body: unknown, authorization: string | undefined): Promise<unknown> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const res = await fetch(new URL(url, baseUrl), {
    method,
    headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...(authorization ? { authorization } : {}) },
    body: payload,
  });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) throw new SealkeepError(res.status, String(parsed.type ?? 'about:blank'), parsed.detail as string | undefined, parsed);
  return parsed;
}

/** A signed request as `signer` (or an unsigned one to a public route). */
export function signedRequest(baseUrl: string, signer: Signer | null, method: string, url: string, body?: unknown): Promise<unknown> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const auth = signer ? authorizationHeader({ key: signer.key, principalId: signer.principalId, method, url, ...(payload ? { body: payload } : {}) }) : undefined;
  return call(baseUrl, method, url, body, auth);
}

/** A request proven by a key the service does not know yet (enrollment). */
export function selfSignedRequest(baseUrl: string, key: KeyObject, method: string, url: string, body?: unknown): Promise<unknown> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return call(baseUrl, method, url, body, selfSignedAuthorizationHeader({ key, method, url, ...(payload ? { body: payload } : {}) }));
}
