// Assembling the service from its parts: given an open store, build the express app of each
// plane. No listening here, so tests drive the apps with supertest.

import express, { type Express } from 'express';
import type { Store } from '@sealkeep/store';
import { healthRoutes } from './health/routes.js';

export interface Planes {
  admin: Express;
}

export function buildPlanes(store: Store): Planes {
  const admin = express();
  admin.disable('x-powered-by');
  admin.use(healthRoutes(store));
  return { admin };
}
