// The service's metrics registry. Aggregates only, because /metrics answers without credentials:
// requests and their latency by plane, route pattern, method and status class (from the request
// log entries, which carry no ids); audit entries committed by kind of chain; and the process
// (memory, CPU, event-loop delay, uptime, open handles). No tenant, principal or key appears.

import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { AnyRoute } from '../../http/route.js';
import type { RequestLogEntry } from '../../http/mount.js';
import { auditEntriesCommitted } from '../../audit/audit-log.js';
import { Counter, Histogram, Reading, renderExposition, type MetricFamily } from './exposition.js';

/** Seconds; from a cached read to a slow write under load. */
const LATENCY_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type RequestLabel = 'plane' | 'route' | 'method' | 'status_class';

const startedAt = Date.now() - process.uptime() * 1000;
let loopDelay: IntervalHistogram | undefined;

/** One event-loop delay monitor per process, whichever registry asks first. */
function eventLoopDelay(): IntervalHistogram {
  if (!loopDelay) {
    loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
  }
  return loopDelay;
}

function openFileDescriptors(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return NaN; // not Linux
  }
}

/** Event-loop delay since the previous scrape, in seconds; starts a new window. */
function takeEventLoopDelay(): { p50: number; p99: number; max: number } {
  const h = eventLoopDelay();
  const taken = h.count > 0 ? { p50: h.percentile(50) / 1e9, p99: h.percentile(99) / 1e9, max: h.max / 1e9 } : { p50: 0, p99: 0, max: 0 };
  h.reset();
  return taken;
}

function processFamilies(delay: () => { p50: number; p99: number; max: number }): MetricFamily[] {
  return [
    new Reading('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', () => process.memoryUsage.rss()),
    new Reading('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes.', 'gauge', () => process.memoryUsage().heapUsed),
    new Reading('nodejs_heap_size_total_bytes', 'V8 heap allocated, in bytes.', 'gauge', () => process.memoryUsage().heapTotal),
    new Reading('nodejs_external_memory_bytes', 'Memory of objects outside the V8 heap (buffers, WebAssembly), in bytes.', 'gauge', () => process.memoryUsage().external),
    new Reading('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', 'counter', () => {
      const { user, system } = process.cpuUsage();
      return [{ labels: {}, value: (user + system) / 1e6 }];
    }),
    new Reading('nodejs_eventloop_delay_p50_seconds', 'Median event-loop delay since the previous scrape, in seconds.', 'gauge', () => delay().p50),
    new Reading('nodejs_eventloop_delay_p99_seconds', '99th percentile event-loop delay since the previous scrape, in seconds.', 'gauge', () => delay().p99),
    new Reading('nodejs_eventloop_delay_max_seconds', 'Longest event-loop delay since the previous scrape, in seconds.', 'gauge', () => delay().max),
    new Reading('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', 'gauge', () => Math.floor(startedAt / 1000)),
    new Reading('process_uptime_seconds', 'Time since the process started, in seconds.', 'gauge', () => process.uptime()),
    new Reading('process_open_fds', 'Open file descriptors.', 'gauge', openFileDescriptors),
    new Reading('nodejs_active_resources', 'Resources keeping the event loop alive (sockets, timers, file requests), by type.', 'gauge', () => {
      const byType = new Map<string, number>();
      for (const t of process.getActiveResourcesInfo()) byType.set(t, (byType.get(t) ?? 0) + 1);
      return [...byType].map(([type, value]) => ({ labels: { type }, value }));
    }),
  ];
}

export class ServiceMetrics {
  private readonly requests = new Counter<RequestLabel>('sealkeep_http_requests_total', 'HTTP requests answered, by plane, route pattern, method and status class.', [
    'plane',
    'route',
    'method',
    'status_class',
  ]);
  private readonly latency = new Histogram<RequestLabel>(
    'sealkeep_http_request_duration_seconds',
    'Time from the arrival of a request to the end of its answer, in seconds, by plane, route pattern, method and status class.',
    ['plane', 'route', 'method', 'status_class'],
    LATENCY_BOUNDS,
  );
  private readonly families: MetricFamily[] = [
    this.requests,
    this.latency,
    new Reading('sealkeep_audit_entries_appended_total', 'Audit entries appended (counted when their transaction commits), by kind of chain: tenant or provider.', 'counter', () =>
      Object.entries(auditEntriesCommitted()).map(([chain, value]) => ({ labels: { chain }, value })),
    ),
    ...processFamilies(() => this.loopDelay),
  ];
  /** The event-loop delay window the current scrape reports. */
  private loopDelay = { p50: 0, p99: 0, max: 0 };

  constructor() {
    eventLoopDelay();
  }

  /**
   * Counts a listener's requests (give it the routes the listener was built from). The plane is
   * the matched route's; a request no route matched counts under the listener's planes.
   */
  requestObserver(routes: readonly AnyRoute[]): (entry: RequestLogEntry) => void {
    const planeOf = new Map<string, string>();
    return (entry) => {
      const method = entry.method === 'HEAD' ? 'get' : entry.method.toLowerCase();
      const key = `${entry.planes.join('+')} ${method} ${entry.route}`;
      let plane = planeOf.get(key);
      if (plane === undefined) {
        plane = routes.find((r) => r.method === method && r.path === entry.route && entry.planes.includes(r.plane))?.plane ?? entry.planes.join('+');
        planeOf.set(key, plane);
      }
      const labels = { plane, route: entry.route, method: entry.method, status_class: `${Math.floor(entry.status / 100)}xx` };
      this.requests.inc(labels);
      this.latency.observe(labels, entry.ms / 1000);
    };
  }

  /** Every family, in the Prometheus text exposition format. */
  render(): string {
    this.loopDelay = takeEventLoopDelay();
    return renderExposition(this.families);
  }
}
