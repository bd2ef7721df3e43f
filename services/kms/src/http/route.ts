// Routes as data: one route() value per endpoint declares its method, path, plane, permission,
// request schemas and handler. The same value drives mounting, validation, authorization,
// the OpenAPI document and the authorization-matrix test.

import type { Request } from 'express';
import type { Duplex } from 'node:stream';
import type { z } from 'zod';
import type { Permission } from '../auth/permissions.js';
import type { Authenticator, Principal } from './mount.js';
import type { ProofRequest } from '../auth/request-proof.js';
import type { AuditActor } from '../audit/audit-log.js';

export const PLANE_NAMES = ['tenant', 'data', 'admin', 'compliance'] as const;
export type Plane = (typeof PLANE_NAMES)[number];
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type BodyType = 'json' | 'form' | 'binary';

/** What a handler is given: validated input and the request's context. */
export interface HandlerInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  requestId: string;
  /** The authenticated caller; null only on public routes. */
  principal: Principal | null;
  /**
   * Who acts, for the audit entry written with the change; null only on public routes. On a
   * delegated request (`principal.delegation`) its actorChain is the whole chain, subject first.
   */
  actor: AuditActor | null;
  /** The request as a proof covers it (for routes that check a proof of their own, e.g. enrollment). */
  signed: ProofRequest;
  /**
   * Run `fn` once the answer has been handed to the connection whole (not when the request fails
   * or the caller goes away first): a binary answer's memory goes back to the body pool then.
   */
  afterSend(fn: () => void): void;
  /**
   * On an upgrade route: answer 101 Switching Protocols and take the connection (the handler
   * then owns it and answers nothing more). Absent on other routes.
   */
  switchProtocols?(): UpgradedConnection;
}

/**
 * A connection an upgrade route took over: the socket, the bytes already read past the request's
 * head, where unexpected errors go, where each exchange on it is reported, to be logged and
 * counted as a request of `route` would be (by the same principal, under `requestId`), and where
 * what befalls the connection itself is told, for the operator's log (under the upgrade's
 * request id; `details` must hold nothing secret).
 */
export interface UpgradedConnection {
  socket: Duplex;
  head: Buffer;
  reportInternalError(err: unknown): void;
  observe(exchange: { requestId: string; method: string; route: string; status: number; ms: number }): void;
  warn(message: string, details: Record<string, string | number>): void;
}

export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** Express path syntax: `/v1/tenants/:tenantId/keys`. */
  path: string;
  plane: Plane;
  permission: Permission;
  summary: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** Documented response schema (not enforced at run time). */
  response?: z.ZodType;
  /** Success status (default 200; 201 for creations, 202 for accepted work). */
  status?: number;
  /** Media type of a text answer (the handler returns a string), e.g. the Prometheus exposition format; default JSON. */
  produces?: string;
  /** Largest body accepted (default 64 KiB). */
  maxBody?: number;
  /**
   * How the body is sent: `json` (application/json, the default), `form`
   * (application/x-www-form-urlencoded, for OAuth endpoints such as token exchange) or `binary`
   * (application/octet-stream, the data plane's sectors: the handler gets a Buffer, and a Buffer
   * it returns is sent as application/octet-stream). Either way the request proof covers the
   * body's bytes exactly as received.
   */
  bodyType?: BodyType;
  /**
   * What can be checked of a binary request before its body is read: throws to refuse it, else
   * answers the largest body this caller may send (at most maxBody). Bodies larger than a JSON
   * request's are held in the binary-body budget (http/body-budget.ts) while they are read and
   * answered, so a caller not yet known should be held to less.
   */
  beforeBody?: (req: Request) => number;
  /**
   * Who the caller is, for routes with an authenticator of their own (the data plane's block
   * sessions), given the listener's to fall back on; the listener's otherwise. Authorization
   * against the permission table is the same either way.
   */
  authenticate?: (req: Request, listener: Authenticator) => Promise<Principal | null>;
  /**
   * An upgrade route (RFC 9110 §7.8): the protocol token the request must ask for in `Upgrade`
   * (else 426); its handler takes the connection with `switchProtocols`. Served only where the
   * listener hands upgrade requests to the app (http/listen.ts).
   */
  upgrade?: string;
  /** False: no per-request admission (block sessions are admitted once, when opened). */
  admit?: false;
  /**
   * Headers set on a success response (e.g. `cache-control: no-store` for issued tokens), or a
   * function of the handler's result (e.g. the `Location` of accepted work).
   */
  responseHeaders?: Readonly<Record<string, string>> | ((result: never) => Readonly<Record<string, string>>);
  handler(input: HandlerInput<P, Q, B>): Promise<unknown> | unknown;
}

export type AnyRoute = RouteSpec<any, any, any>;

/** Declare a route; the generic parameters are inferred from the schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(spec: RouteSpec<P, Q, B>): RouteSpec<P, Q, B> {
  return Object.freeze(spec);
}
