// Assembling the service: the route table (every feature's routes) and one express app per
// listener, each serving one plane (or admin and compliance together). No listening here, so
// tests drive the apps with supertest.

import type { Express } from 'express';
import type { Store } from '@sealkeep/store';
import type { AnyRoute, Plane } from './http/route.js';
import { mountListener, type Admission, type Authenticator, type ConnectionWarning, type RequestLogEntry } from './http/mount.js';
import { healthRoutes } from './features/health/routes.js';
import { principalRoutes } from './features/principals/routes.js';
import { verifyRequestProof } from './auth/request-proof.js';
import { signedPartsOf } from './http/mount.js';
import { tenantRoutes } from './features/tenants/routes.js';
import { auditRoutes } from './audit/routes.js';
import { metricsRoutes } from './features/metrics/routes.js';
import { ServiceMetrics } from './features/metrics/service-metrics.js';
import { openApiRoute } from './features/openapi/routes.js';
import { quotaRoutes } from './features/quotas/routes.js';
import { createRateLimiter } from './features/quotas/rate-limit.js';
import { tokenRoutes } from './features/tokens/routes.js';
import { ephemeralTokenKey, type TokenKey } from './auth/token-key.js';
import { withDelegation } from './auth/delegation.js';
import { serviceRoutes } from './features/service/routes.js';
import { keyRoutes } from './features/keys/routes.js';
import { vmRoutes } from './features/vms/routes.js';
import { hostRoutes, withHostAttestation, type HostDeps } from './features/hosts/routes.js';
import type { KeysContext } from './features/keys/keys-context.js';
import { scanRoutes } from './features/scans/routes.js';
import { ScanRunner } from './features/scans/runner.js';
import { blockRoutes } from './features/blocks/routes.js';
import type { BlockSessions } from './features/blocks/block-sessions.js';
import type { VolumeAttestationDeps } from './features/blocks/volume-attestation.js';
import type { TpmManager } from '@sealkeep/tpm';
import type { ServiceState } from './platform/measured-start.js';
import { serviceKeyEvidenceDeps } from './features/tokens/service-key-evidence.js';

export const SERVICE_VERSION = '0.1.0';

export interface ServiceDeps {
  store: Store;
  /** Establishes the principal of a request (default: its request proof, checked against the store). */
  authenticate?: Authenticator;
  /** The measured start's outcome (absent when running without a host TPM, e.g. in most tests). */
  service?: ServiceState;
  /** Whole-request limits checked after authorization (default: each tenant's operations per second, features/quotas/rate-limit.ts; false: none). */
  admit?: Admission | false;
  /** Signs and verifies delegation tokens (auth/token-key.ts: derived from the unsealed root). */
  tokenKey?: TokenKey;
  onInternalError?(err: unknown, requestId: string | undefined): void;
  onRequest?(entry: RequestLogEntry): void;
  /** What befell a connection an upgrade route took (a block stream dropped): for the log, as a warning. */
  onConnectionWarning?(entry: ConnectionWarning, message: string): void;
  /** Host attestation: the service's TPM and the trusted manufacturer roots (default: none trusted). */
  hosts?: HostDeps;
  /** The key engine and the manufacturer's certificates; without it key routes answer 503. */
  keys?: KeysContext;
  /**
   * The data plane: the VMs' vTPMs, the open block sessions (with their worker threads) and the
   * service TPM's attestation key for volume attestations; without it those routes answer 503.
   */
  data?: { vtpms: TpmManager; sessions: BlockSessions; attestation?: VolumeAttestationDeps };
  /** The metrics registry GET /metrics serves (default: one per buildListeners call, shared by its listeners). */
  metrics?: ServiceMetrics;
  /** Runs compliance scans in the background (default: one per route table; main.ts stops its own on shutdown). */
  scans?: ScanRunner;
}

/** How long a host attestation holds unless configured (seconds). */
export const DEFAULT_FRESH_SECONDS = 600;
/** A key's primary version older than this is reported by compliance scans as due for rotation. */
export const KEY_ROTATION_DAYS = 365;

/** Every route of the service, as data. */
export function routeTable(deps: ServiceDeps): AnyRoute[] {
  const signingKey = deps.tokenKey ?? ephemeralTokenKey();
  const blocks = { keys: deps.keys, vtpms: deps.data?.vtpms, sessions: deps.data?.sessions, signingKey };
  return [
    ...healthRoutes(deps.store),
    ...principalRoutes(deps.store),
    ...tenantRoutes(deps.store),
    ...auditRoutes(deps.store),
    ...metricsRoutes(deps.metrics ?? new ServiceMetrics()),
    ...quotaRoutes(deps.store),
    ...serviceRoutes(deps.service),
    ...tokenRoutes(deps.store, signingKey, serviceKeyEvidenceDeps(deps.service, deps.data?.attestation, deps.keys?.endorsement)),
    ...keyRoutes(deps.store, deps.keys),
    ...vmRoutes(deps.store, blocks, { attestation: deps.data?.attestation, service: deps.service, vtpms: deps.data?.vtpms }),
    ...blockRoutes(deps.store, blocks, deps.data?.attestation),
    ...hostRoutes(deps.store, deps.hosts ?? { settings: { trustedRoots: [], freshSeconds: DEFAULT_FRESH_SECONDS } }, deps.service),
    ...scanRoutes(deps.store, deps.scans ?? new ScanRunner(deps.store.db), {
      service: deps.service,
      hostAttestationSeconds: deps.hosts?.settings.freshSeconds ?? DEFAULT_FRESH_SECONDS,
      keyRotationDays: KEY_ROTATION_DAYS,
    }),
  ];
}

/** One app per listener; `layout` groups the planes that share a listener. */
export function buildListeners(given: ServiceDeps, layout: readonly (readonly Plane[])[]): Express[] {
  // A process without its unsealed root (a test, a tool) signs with a key of its own: its
  // delegation tokens are good only to these listeners, while the process lives.
  const deps = { ...given, tokenKey: given.tokenKey ?? ephemeralTokenKey() };
  const metrics = deps.metrics ?? new ServiceMetrics();
  const routes = routeTable({ ...deps, metrics });
  const observeRequest = metrics.requestObserver(routes);
  const proven: Authenticator =
    deps.authenticate ??
    ((req) => verifyRequestProof(deps.store.db, signedPartsOf(req)));
  const authenticate = withDelegation(withHostAttestation(proven, deps.store.db), deps.store.db, deps.tokenKey);
  const admit = deps.admit ?? createRateLimiter(deps.store);
  const onInternalError = deps.onInternalError ?? (() => {});
  return layout.map((planes) =>
    mountListener({
      planes,
      routes: [...routes, openApiRoute(routes, planes, SERVICE_VERSION)],
      authenticate,
      onInternalError,
      ...(admit ? { admit } : {}),
      ...(deps.onConnectionWarning ? { onConnectionWarning: deps.onConnectionWarning } : {}),
      onRequest: (entry: RequestLogEntry) => {
        observeRequest(entry);
        deps.onRequest?.(entry);
      },
    }),
  );
}
