// How far the service's JavaScript heap may grow between full collections. The service holds
// some 50 MB of long-lived objects (its code, schemas, the embedded store's glue), and data-plane
// traffic promotes a few megabytes of short-lived request objects per 32 MiB of sectors. Under
// V8's own rule the old generation grew only 5–8% past what survived the last full collection, so
// the service re-marked all 50 MB about once per 32 MiB: a third of its CPU per data-plane byte
// (docs/service.md#memory). Letting it double instead costs up to one more heap's worth of memory
// and leaves full collections to the slack between bursts.

import { setFlagsFromString } from 'node:v8';

/** The old generation may grow to twice what survived the last full collection before the next one. */
const HEAP_GROWING_PERCENT = 100;

/** Set once at start, before traffic; V8 reads it each time it sets the next collection's limit. */
export function letHeapGrowForDataPlane(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
