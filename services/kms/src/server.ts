// Assembling the service: the route table (every feature's routes) and one express app per
// listener, each serving one plane (or admin and compliance together). No listening here, so
// tests drive the apps with supertest.

import type { Express } from 'express';
import type { Store } from '@sealkeep/store';
import type { AnyRoute, Plane } from './http/route.js';
import { mountListener, type Admission, type Authenticator, type RequestLogEntry } from './http/mount.js';
import { healthRoutes } from './features/health/routes.js';
import { principalRoutes } from './features/principals/routes.js';
import { verifyRequestProof } from './auth/request-proof.js';
import { signedPartsOf } from './http/mount.js';
import { tenantRoutes } from './features/tenants/routes.js';
import { auditRoutes } from './audit/routes.js';
import { openApiRoute } from './features/openapi/routes.js';
import { serviceRoutes } from './features/service/routes.js';
import type { ServiceState } from './platform/measured-start.js';

export const SERVICE_VERSION = '0.1.0';

export interface ServiceDeps {
  store: Store;
  /** Establishes the principal of a request (default: its request proof, checked against the store). */
  authenticate?: Authenticator;
  /** The measured start's outcome (absent when running without a host TPM, e.g. in most tests). */
  service?: ServiceState;
  /** Whole-request limits checked after authorization (default: none). */
  admit?: Admission;
  onInternalError?(err: unknown, requestId: string | undefined): void;
  onRequest?(entry: RequestLogEntry): void;
}

/** Every route of the service, as data. */
export function routeTable(deps: ServiceDeps): AnyRoute[] {
  return [
    ...healthRoutes(deps.store),
    ...principalRoutes(deps.store),
    ...tenantRoutes(deps.store),
    ...auditRoutes(deps.store),
    ...serviceRoutes(deps.service),
  ];
}

/** One app per listener; `layout` groups the planes that share a listener. */
export function buildListeners(deps: ServiceDeps, layout: readonly (readonly Plane[])[]): Express[] {
  const routes = routeTable(deps);
  const authenticate: Authenticator =
    deps.authenticate ??
    ((req) => verifyRequestProof(deps.store.db, signedPartsOf(req)));
  const onInternalError = deps.onInternalError ?? (() => {});
  return layout.map((planes) =>
    mountListener({
      planes,
      routes: [...routes, openApiRoute(routes, planes, SERVICE_VERSION)],
      authenticate,
      onInternalError,
      ...(deps.admit ? { admit: deps.admit } : {}),
      ...(deps.onRequest ? { onRequest: deps.onRequest } : {}),
    }),
  );
}
