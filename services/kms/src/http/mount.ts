// Turning a plane's route table into an express app. Every request goes through the same steps:
//   request id → route match (404 / 405) → body parse (JSON or form) with the route's size limit
//   (413, 400, 415) → authenticate (401; a Sealkeep-Delegation token joins the principal)
//   → authorize against the permission table, the tenant and a delegation's tenant and scope (403)
//   → admission (429: per-tenant operation rates)
//   → validate params, query and body (400 with the failing paths) → handler → JSON response.
// An upgrade route (route.upgrade, served by http/listen.ts) takes the same steps, then needs the
// upgrade to its protocol (426) and answers 101, its handler taking the connection.
// Handlers see only validated input; errors become RFC 9457 problems (problems.ts).

import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import { roleHolds, TENANT_ROLES, type Permission, type Role } from '../auth/permissions.js';
import { Problem, problemHandler } from './problems.js';
import { binaryBodyBytes, readBinaryBody } from './binary-body.js';
import type { ProofRequest } from '../auth/request-proof.js';
import type { AuditActor } from '../audit/audit-log.js';
import type { AnyRoute, Plane, UpgradedConnection } from './route.js';
import { upgradeHeadOf } from './listen.js';

/** Who is calling, as established by the authenticator. */
export interface Principal {
  id: string;
  /** Unique within its tenant (or among the provider's principals). */
  name: string;
  role: Role;
  /** The tenant a tenant-role principal belongs to; null for provider-side roles. */
  tenantId: string | null;
  /** RFC 7638 thumbprint of the key that signed this request's proof (delegation tokens are bound to it). */
  keyThumbprint?: string;
  /** Present when the request acts on behalf of another principal (a Sealkeep-Delegation token). */
  delegation?: Delegation;
}

/** A delegated request: whom it acts for, through whom, and within what. */
export interface Delegation {
  /** The subject's tenant; the request acts in it and nowhere else. */
  tenantId: string;
  /** Labels, subject first, then every hop in order; the caller (the token's holder) is last. */
  chain: readonly string[];
  /** The permissions the token is limited to; null when its subject set no scope. */
  scope: readonly Permission[] | null;
}

/** Establishes the principal of a request from its proof; null when it carries none. */
export type Authenticator = (req: Request) => Promise<Principal | null>;

/**
 * Runs after authorization and before validation, for limits that apply to whole requests
 * (operations per second per tenant); throws a Problem to refuse.
 */
export type Admission = (principal: Principal, route: AnyRoute, tenantId: string | undefined) => Promise<void>;

/**
 * One line per request, built only from what cannot carry a secret: the route's pattern (not the
 * URL: no ids, no query), the status, the principal's label and the time taken. Headers and
 * bodies — request proofs, enrollment codes, keys — are never part of it.
 */
export interface RequestLogEntry {
  requestId: string;
  planes: readonly Plane[];
  method: string;
  route: string;
  status: number;
  principal: string | null;
  ms: number;
}

export interface ListenerOptions {
  /** The planes this listener serves (the compliance plane may share the admin listener). */
  planes: readonly Plane[];
  routes: readonly AnyRoute[];
  authenticate: Authenticator;
  admit?: Admission;
  onInternalError(err: unknown, requestId: string | undefined): void;
  onRequest?(entry: RequestLogEntry): void;
  /** Something befell a connection an upgrade route took (not one of its exchanges): logged as a warning. */
  onConnectionWarning?(entry: ConnectionWarning, message: string): void;
}

/** What is logged with a connection's warning: whose connection it is, and what the route said of it. */
export interface ConnectionWarning extends Record<string, unknown> {
  requestId: string;
  planes: readonly Plane[];
  principal: string | null;
}

export const DEFAULT_MAX_BODY = 64 * 1024;
const NO_BODY = Buffer.alloc(0);

const ROLE_PREFIX: Record<Role, string> = {
  'cloud-admin': 'ca',
  'tenant-admin': 'tn',
  'tenant-user': 'tn',
  hypervisor: 'hv',
  delegate: 'cms',
  reviewer: 'rv',
};

/** How the audit trail names a principal: `tn:alice`, `ca:ops`, `hv:host-07`. */
export function principalLabel(p: Pick<Principal, 'name' | 'role'>): string {
  return `${ROLE_PREFIX[p.role]}:${p.name}`;
}

function actorOf(p: Principal, plane: Plane, requestId: string): AuditActor {
  const label = principalLabel(p);
  return { plane, principal: label, actorChain: p.delegation ? [...p.delegation.chain] : [label], requestId };
}

/** What a request proof covers: method, path and query as sent, the body exactly as received. */
export function signedPartsOf(req: Request): ProofRequest {
  return {
    method: req.method,
    url: req.originalUrl,
    rawBody: (req as Request & { rawBody?: Buffer }).rawBody ?? NO_BODY,
    authorization: req.header('authorization'),
  };
}

function validate<T>(schema: z.ZodType<T> | undefined, value: unknown, where: 'params' | 'query' | 'body'): T {
  if (!schema) return value as T;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new Problem('validation-failed', `invalid ${where}`, {
    errors: r.error.issues.map((i) => ({ in: where, path: i.path.join('.'), message: i.message })),
  });
}

/** The tenant a request acts on, from its path (`:tenantId`). */
function targetTenant(req: Request): string | undefined {
  return typeof req.params.tenantId === 'string' ? req.params.tenantId : undefined;
}

/**
 * A delegated request acts only in its subject's tenant (a tenant-role holder only when that is
 * its own), and only with permissions inside the token's scope, when it has one.
 */
function authorizeDelegation(route: AnyRoute, principal: Principal, delegation: Delegation, tenant: string | undefined): void {
  if (TENANT_ROLES.has(principal.role) && principal.tenantId !== delegation.tenantId) {
    throw new Problem('forbidden', "the delegation is for another tenant than its holder's");
  }
  if (tenant !== undefined && tenant !== delegation.tenantId) throw new Problem('forbidden', "the resource is outside the delegation's tenant");
  if (delegation.scope && !delegation.scope.includes(route.permission)) throw new Problem('forbidden', `the delegation's scope does not include ${route.permission}`);
}

function authorize(route: AnyRoute, principal: Principal | null, req: Request): void {
  if (route.permission === 'public') return;
  if (!principal) throw new Problem('unauthenticated');
  if (!roleHolds(principal.role, route.permission)) throw new Problem('forbidden', `${principal.role} may not ${route.permission}`);
  const tenant = targetTenant(req);
  if (principal.delegation) return authorizeDelegation(route, principal, principal.delegation, tenant);
  if (TENANT_ROLES.has(principal.role) && tenant !== undefined && tenant !== principal.tenantId) {
    throw new Problem('forbidden', 'the resource belongs to another tenant');
  }
}

/** The media type each body type is sent as. */
const MEDIA_TYPES = { json: 'application/json', form: 'application/x-www-form-urlencoded', binary: 'application/octet-stream' } as const;
/** Form bodies are OAuth requests with a handful of parameters; more is refused (413). */
const MAX_FORM_PARAMETERS = 32;

/** The route's body parser, size-limited; it keeps the raw bytes, which the request proof covers. */
function bodyParser(route: AnyRoute) {
  const limit = route.maxBody ?? DEFAULT_MAX_BODY;
  const verify = (req: unknown, _res: unknown, buf: Buffer) => {
    (req as { rawBody: Buffer }).rawBody = buf;
  };
  if (route.bodyType === 'binary') {
    // Past a JSON request's size, a body's bytes are held (binaryBodyBytes) from before it is read
    // until its exchange is over — the response closed, or its connection; with no room, it is
    // not read until there is (its sender waits, as TCP makes it).
    return (req: Request, res: Response, next: NextFunction) => {
      let allowed: number;
      try {
        allowed = Math.min(limit, route.beforeBody ? route.beforeBody(req) : limit);
      } catch (error) {
        return next(error);
      }
      const declared = Number(req.headers['content-length']);
      if (declared > allowed) return next(new Problem('payload-too-large', `this request may carry at most ${allowed} bytes`));
      const bytes = Number.isSafeInteger(declared) && declared >= 0 ? declared : allowed;
      const read = () =>
        readBinaryBody(req, allowed).then((body) => {
          (req as Request & { rawBody: Buffer }).rawBody = body;
          req.body = body;
          next();
        }, next);
      if (bytes <= DEFAULT_MAX_BODY) return void read();
      binaryBodyBytes.acquire(bytes, req).then(
        () => {
          holdUntilOver(req, res, () => binaryBodyBytes.give(bytes));
          void read();
        },
        () => undefined, // the client went away while it waited: nothing to answer
      );
    };
  }
  return route.bodyType === 'form'
    ? express.urlencoded({ limit, extended: false, parameterLimit: MAX_FORM_PARAMETERS, type: () => true, verify })
    : express.json({ limit, strict: true, type: () => true, verify });
}

/**
 * Calls `over` once, when the exchange of `req` is over: its response closed, or its connection
 * (a pipelined request whose response never began gets no 'close' of its own) — at once if it is
 * over already. Once: a connection that closes under an unfinished response closes the response
 * from its own 'close', and removing a listener during that emit does not stop it being called.
 */
function holdUntilOver(req: Request, res: Response, over: () => void): void {
  const socket = req.socket;
  let called = false;
  const done = () => {
    res.removeListener('close', done);
    socket.removeListener('close', done);
    if (called) return;
    called = true;
    over();
  };
  if (res.destroyed || socket.destroyed) return done();
  res.once('close', done);
  socket.once('close', done);
}

export function mountListener(opts: ListenerOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETags: an API answer is not cached, and hashing a megabyte of sectors per answer costs more than encrypting it.
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use((req, res, next) => {
    const given = req.header('x-request-id');
    const requestId = given && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', requestId);
    if (opts.onRequest) {
      const started = process.hrtime.bigint();
      const logged = () => {
        const info = res.locals as { route?: string; principal?: string };
        opts.onRequest!({
          requestId,
          planes: opts.planes,
          method: req.method,
          route: info.route ?? '(no route)',
          status: res.statusCode,
          principal: info.principal ?? null,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        });
      };
      res.once('finish', logged);
      // A connection taken over by an upgrade route never finishes an answer: it is logged as it switches.
      res.locals.switched = () => {
        res.removeListener('finish', logged);
        logged();
      };
    }
    next();
  });

  const routes = opts.routes.filter((r) => opts.planes.includes(r.plane));
  app.locals.upgrades = routes.some((r) => r.upgrade !== undefined);
  for (const route of routes) {
    const parseBody = bodyParser(route);
    const mediaType = MEDIA_TYPES[route.bodyType ?? 'json'];
    app[route.method](route.path, (req: Request, res: Response, next: NextFunction) => {
      // An upgrade offered to an ordinary route is ignored, but its body would be on the raw connection: refused.
      if (upgradeHeadOf(req) && !route.upgrade && route.body) return next(new Problem('malformed-request', 'this resource does not switch protocols: send its body without "Upgrade"'));
      if (!route.body) return next();
      if (!req.is(mediaType)) return next(new Problem('unsupported-media-type', `this route takes ${mediaType}`));
      parseBody(req, res, next);
    }, async (req: Request, res: Response, next: NextFunction) => {
      res.locals.route = route.path;
      try {
        // Public routes take no principal (enrollment carries a self-signed proof of its own).
        const principal = route.permission === 'public' ? null : await (route.authenticate ? route.authenticate(req, opts.authenticate) : opts.authenticate(req));
        if (principal) res.locals.principal = principalLabel(principal);
        authorize(route, principal, req);
        if (principal && opts.admit && route.admit !== false) await opts.admit(principal, route, targetTenant(req) ?? principal.delegation?.tenantId ?? principal.tenantId ?? undefined);
        if (route.upgrade) requireUpgrade(req, route.upgrade);
        const input = {
          afterSend: (fn: () => void) => res.once('finish', fn),
          params: validate(route.params, req.params, 'params'),
          query: validate(route.query, req.query, 'query'),
          body: validate(route.body, route.body ? req.body : undefined, 'body'),
          requestId: res.getHeader('x-request-id') as string,
          principal,
          actor: principal ? actorOf(principal, route.plane, res.getHeader('x-request-id') as string) : null,
          signed: signedPartsOf(req),
          ...(route.upgrade ? { switchProtocols: () => switchProtocols(req, res, route.upgrade!, opts) } : {}),
        };
        const result = await route.handler(input);
        if (res.statusCode === 101) return;
        if (route.responseHeaders) res.set(typeof route.responseHeaders === 'function' ? route.responseHeaders(result as never) : route.responseHeaders);
        if (Buffer.isBuffer(result)) res.status(route.status ?? 200).type('application/octet-stream').send(result);
        else if (route.produces && typeof result === 'string') res.status(route.status ?? 200).type(route.produces).send(result);
        else res.status(route.status ?? 200).json(result ?? {});
      } catch (err) {
        // After switching protocols the connection is the handler's: nothing more is answered on it.
        if (res.statusCode === 101) return opts.onInternalError(err, res.getHeader('x-request-id') as string);
        next(err);
      }
    });
  }

  // A known path with another method is 405 (with Allow); anything else is 404.
  app.use((req, res, next) => {
    const allowed = routes
      .filter((r) => pathMatches(r.path, req.path))
      .map((r) => r.method.toUpperCase());
    if (allowed.length) {
      res.setHeader('allow', allowed.join(', '));
      return next(new Problem('method-not-allowed'));
    }
    next(new Problem('not-found'));
  });
  app.use(problemHandler({ onInternalError: opts.onInternalError }));
  return app;
}

/** An upgrade route is reached only by an upgrade to its protocol that the listener handed on (http/listen.ts). */
function requireUpgrade(req: Request, protocol: string): void {
  const asked = (req.header('upgrade') ?? '').split(',').map((p) => p.trim().toLowerCase());
  const connection = (req.header('connection') ?? '').split(',').map((p) => p.trim().toLowerCase());
  if (upgradeHeadOf(req) && asked.includes(protocol.toLowerCase()) && connection.includes('upgrade')) return;
  throw new Problem('upgrade-required', `this resource is reached with "Connection: Upgrade" and "Upgrade: ${protocol}"`, {}, { upgrade: protocol });
}

/** Answers 101 and hands the connection to the route's handler; the request is logged as it switches. */
function switchProtocols(req: Request, res: Response, protocol: string, opts: ListenerOptions): UpgradedConnection {
  const requestId = res.getHeader('x-request-id') as string;
  const socket = res.socket!;
  res.detachSocket(socket);
  res.statusCode = 101;
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\nX-Request-Id: ${requestId}\r\n\r\n`);
  (res.locals.switched as (() => void) | undefined)?.();
  const principal = (res.locals.principal as string | undefined) ?? null;
  return {
    socket,
    head: upgradeHeadOf(req)!,
    reportInternalError: (err) => opts.onInternalError(err, requestId),
    observe: (exchange) => opts.onRequest?.({ ...exchange, planes: opts.planes, principal }),
    warn: (message, details) => opts.onConnectionWarning?.({ ...details, requestId, planes: opts.planes, principal }, message),
  };
}

function pathMatches(pattern: string, path: string): boolean {
  const re = new RegExp('^' + pattern.replace(/:[A-Za-z_]\w*/g, '[^/]+') + '/?$');
  return re.test(path);
}
