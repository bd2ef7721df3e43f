// The OpenAPI 3.1 document, generated from the route table: paths and methods, the permission
// and plane of each operation, request schemas from the same zod schemas that validate requests,
// and the problem responses from the catalogue. Served by each plane at /openapi.json.

import { z } from 'zod';
import { PERMISSIONS } from '../auth/permissions.js';
import { PROBLEM_BASE, PROBLEMS } from './problems.js';
import type { AnyRoute, Plane } from './route.js';

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
}

function parameters(route: AnyRoute): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
    if (!schema) continue;
    const js = jsonSchema(schema) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, s] of Object.entries(js.properties ?? {})) {
      out.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: s });
    }
  }
  return out;
}

const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string', format: 'uri', description: `one of ${PROBLEM_BASE}<slug>` },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
  },
};

export function openApiDocument(routes: readonly AnyRoute[], planes: readonly Plane[], version: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    if (!planes.includes(r.plane)) continue;
    const path = r.path.replace(/:([A-Za-z_]\w*)/g, '{$1}');
    const status = String(r.upgrade ? 101 : (r.status ?? 200));
    const problems = [...(r.permission === 'public' ? ['internal'] : ['unauthenticated', 'forbidden', 'validation-failed', 'internal']), ...(r.upgrade ? ['upgrade-required'] : [])];
    (paths[path] ??= {})[r.method] = {
      summary: r.summary,
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      'x-sealkeep-permission': r.permission,
      'x-sealkeep-roles': PERMISSIONS[r.permission],
      parameters: parameters(r),
      ...(r.body ? { requestBody: { required: true, content: { [r.bodyType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json']: { schema: jsonSchema(r.body) } } } } : {}),
      responses: {
        [status]: r.upgrade
          ? { description: `the connection switches to ${r.upgrade}`, headers: { Upgrade: { schema: { const: r.upgrade } } } }
          : { description: 'success', content: { [r.produces ?? 'application/json']: { schema: r.response ? jsonSchema(r.response) : {} } } },
        ...Object.fromEntries(
          problems.map((slug) => [
            String(PROBLEMS[slug as keyof typeof PROBLEMS].status),
            { description: slug, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
          ]),
        ),
      },
      ...(r.permission === 'public' ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: `Sealkeep ${planes.join(' and ')} plane${planes.length > 1 ? 's' : ''}`, version },
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA },
      securitySchemes: {
        requestProof: { type: 'apiKey', in: 'header', name: 'authorization', description: 'A compact JWS signed by the principal over method, path, body digest, issue time and a unique id' },
      },
    },
    security: [{ requestProof: [] }],
  };
}
