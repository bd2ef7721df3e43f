// The Sealkeep HTTP client: every request signed with the principal's key (request proofs),
// problem responses turned into SealkeepError with the problem's type and detail. A signer that
// holds a delegation token (delegation.ts) sends it beside its proof, as Sealkeep-Delegation.

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
  /** A delegation token issued to this principal: its requests then act for the token's subject. */
  delegation?: string;
}

/** A body as sent: its bytes (which the request proof hashes) and its media type. */
export interface EncodedBody {
  bytes: string;
  contentType: string;
}

const jsonBody = (body: unknown): EncodedBody | undefined => (body === undefined ? undefined : { bytes: JSON.stringify(body), contentType: 'application/json' });

async function call(baseUrl: string, method: string, url: string, body: EncodedBody | undefined, headers: Record<string, string>): Promise<unknown> {
  const res = await fetch(new URL(url, baseUrl), {
    method,
    headers: { ...(body ? { 'content-type': body.contentType } : {}), ...headers },
    body: body?.bytes,
  });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) throw new SealkeepError(res.status, String(parsed.type ?? 'about:blank'), parsed.detail as string | undefined, parsed);
  return parsed;
}

/** A signed request as `signer` with a JSON body (or an unsigned one to a public route). */
export function signedRequest(baseUrl: string, signer: Signer | null, method: string, url: string, body?: unknown): Promise<unknown> {
  return sendRequest(baseUrl, signer, method, url, jsonBody(body));
}

/** A signed request with a body already encoded (e.g. an OAuth form). */
export function sendRequest(baseUrl: string, signer: Signer | null, method: string, url: string, body?: EncodedBody): Promise<unknown> {
  if (!signer) return call(baseUrl, method, url, body, {});
  const authorization = authorizationHeader({ key: signer.key, principalId: signer.principalId, method, url, ...(body ? { body: body.bytes } : {}) });
  return call(baseUrl, method, url, body, { authorization, ...(signer.delegation ? { 'sealkeep-delegation': signer.delegation } : {}) });
}

/** A request proven by a key the service does not know yet (enrollment). */
export function selfSignedRequest(baseUrl: string, key: KeyObject, method: string, url: string, body?: unknown): Promise<unknown> {
  const encoded = jsonBody(body);
  return call(baseUrl, method, url, encoded, { authorization: selfSignedAuthorizationHeader({ key, method, url, ...(encoded ? { body: encoded.bytes } : {}) }) });
}
