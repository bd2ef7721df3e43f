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

async function send(baseUrl: string, method: string, url: string, body: EncodedBody | undefined, headers: Record<string, string>): Promise<{ ok: boolean; text: string; problem: () => SealkeepError }> {
  const attempt = () =>
    fetch(new URL(url, baseUrl), {
      method,
      headers: { ...(body ? { 'content-type': body.contentType } : {}), ...headers },
      body: body?.bytes,
    });
  let res: Response;
  try {
    res = await attempt();
  } catch (e) {
    // A kept-alive connection the server closed just as it was reused fails before anything was
    // sent: a GET (which changes nothing, and whose proof no server has seen) goes once more.
    if (method.toUpperCase() !== 'GET' || !(e instanceof TypeError)) throw e;
    res = await attempt();
  }
  const text = await res.text();
  const problem = () => {
    const p = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    return new SealkeepError(res.status, String(p.type ?? 'about:blank'), p.detail as string | undefined, p);
  };
  return { ok: res.ok, text, problem };
}

async function call(baseUrl: string, method: string, url: string, body: EncodedBody | undefined, headers: Record<string, string>): Promise<unknown> {
  const r = await send(baseUrl, method, url, body, headers);
  if (!r.ok) throw r.problem();
  return r.text ? (JSON.parse(r.text) as Record<string, unknown>) : {};
}

const signedHeaders = (signer: Signer, method: string, url: string, body?: EncodedBody): Record<string, string> => ({
  authorization: authorizationHeader({ key: signer.key, principalId: signer.principalId, method, url, ...(body ? { body: body.bytes } : {}) }),
  ...(signer.delegation ? { 'sealkeep-delegation': signer.delegation } : {}),
});

/** A signed request as `signer` with a JSON body (or an unsigned one to a public route). */
export function signedRequest(baseUrl: string, signer: Signer | null, method: string, url: string, body?: unknown): Promise<unknown> {
  return sendRequest(baseUrl, signer, method, url, jsonBody(body));
}

/** A signed request with a body already encoded (e.g. an OAuth form). */
export function sendRequest(baseUrl: string, signer: Signer | null, method: string, url: string, body?: EncodedBody): Promise<unknown> {
  return call(baseUrl, method, url, body, signer ? signedHeaders(signer, method, url, body) : {});
}

/** A signed GET of a document that is not JSON (e.g. an HTML report): its text, as sent. */
export async function signedTextRequest(baseUrl: string, signer: Signer, url: string): Promise<string> {
  const r = await send(baseUrl, 'GET', url, undefined, signedHeaders(signer, 'GET', url));
  if (!r.ok) throw r.problem();
  return r.text;
}

/** A request proven by a key the service does not know yet (enrollment). */
export function selfSignedRequest(baseUrl: string, key: KeyObject, method: string, url: string, body?: unknown): Promise<unknown> {
  const encoded = jsonBody(body);
  return call(baseUrl, method, url, encoded, { authorization: selfSignedAuthorizationHeader({ key, method, url, ...(encoded ? { body: encoded.bytes } : {}) }) });
}
