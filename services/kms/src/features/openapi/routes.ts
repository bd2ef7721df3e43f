// Each listener describes itself: GET /openapi.json, generated from the routes of the planes
// it serves (so the tenant listener never advertises an admin operation).

import type { AnyRoute, Plane } from '../../http/route.js';
import { route } from '../../http/route.js';
import { openApiDocument } from '../../http/openapi.js';

export function openApiRoute(routes: readonly AnyRoute[], planes: readonly Plane[], version: string): AnyRoute {
  let doc: unknown;
  const self: AnyRoute = route({
    method: 'get',
    path: '/openapi.json',
    plane: planes[0]!,
    permission: 'public',
    summary: 'The OpenAPI 3.1 description of this listener',
    handler: (): unknown => (doc ??= openApiDocument([...routes, self], planes, version)),
  });
  return self;
}
