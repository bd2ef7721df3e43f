// GET /metrics: the service's metrics for Prometheus, on the admin plane only. Scrapers cannot
// sign request proofs, so the route is public; operators bind the admin listener to their
// management network, and the registry holds only aggregates (service-metrics.ts).

import { route } from '../../http/route.js';
import { PROMETHEUS_TEXT } from './exposition.js';
import type { ServiceMetrics } from './service-metrics.js';

export function metricsRoutes(metrics: ServiceMetrics) {
  return [
    route({
      method: 'get',
      path: '/metrics',
      plane: 'admin',
      permission: 'public',
      summary: 'Metrics in the Prometheus text format: requests and latency by plane, route and status class, audit entries, process',
      produces: PROMETHEUS_TEXT,
      handler: () => metrics.render(),
    }),
  ];
}
