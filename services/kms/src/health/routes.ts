// Liveness and readiness. /healthz answers while the process runs; /readyz only while the
// store answers too, so a load balancer stops sending work to a node that lost its database.

import { Router } from 'express';
import type { Store } from '@sealkeep/store';

export function healthRoutes(store: Store): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    const storeUp = await store.ping();
    res.status(storeUp ? 200 : 503).json({ status: storeUp ? 'ready' : 'unavailable', checks: { store: storeUp } });
  });
  return r;
}
