// docker-compose.yml describes a deployment that can actually be built: every service builds
// from a context with a Dockerfile, runs a command whose entry file this repository provides
// (after the Dockerfile's build step), and has a health check; volumes it names are declared.
// No Docker engine is needed: the file is parsed and checked against the tree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { build?: string | { context: string; dockerfile?: string }; image?: string; command?: string[]; healthcheck?: { test: string[] }; volumes?: string[]; depends_on?: Record<string, unknown> }>;
  volumes?: Record<string, unknown>;
};
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');

/** A path the image will contain: sources as they are, dist/*.js from the build of src/*.ts. */
function providedByImage(file: string): boolean {
  if (existsSync(path.join(root, file))) return true;
  const fromSource = file.replace(/\/dist\//, '/src/').replace(/\.js$/, '.ts');
  return /\/dist\//.test(file) && existsSync(path.join(root, fromSource)) && /npm run build/.test(dockerfile);
}

test('the compose file names postgres, the TPM emulator and the service', () => {
  assert.deepEqual(Object.keys(compose.services).sort(), ['kms', 'postgres', 'tpm']);
});

for (const [name, svc] of Object.entries(compose.services)) {
  test(`service ${name}: builds from an existing context or uses an image, and has a health check`, () => {
    if (svc.build !== undefined) {
      const ctx = typeof svc.build === 'string' ? svc.build : svc.build.context;
      const df = typeof svc.build === 'string' ? 'Dockerfile' : (svc.build.dockerfile ?? 'Dockerfile');
      assert.ok(existsSync(path.join(root, ctx)), `build context ${ctx}`);
      assert.ok(existsSync(path.join(root, ctx, df)), `${df} in ${ctx}`);
    } else {
      assert.match(svc.image ?? '', /^[a-z0-9./-]+:[\w.-]+$/, 'a pinned image');
    }
    assert.ok(svc.healthcheck?.test?.length, 'health check');
    for (const v of svc.volumes ?? []) {
      const source = v.split(':')[0]!;
      if (!source.startsWith('.') && !source.startsWith('/')) assert.ok(compose.volumes && source in compose.volumes, `volume ${source} declared`);
    }
    for (const dep of Object.keys(svc.depends_on ?? {})) assert.ok(dep in compose.services, `depends on ${dep}`);
  });

  if (svc.command) {
    test(`service ${name}: its command's entry file exists in the image`, () => {
      const [bin, entry] = svc.command!;
      assert.equal(bin, 'node');
      assert.ok(entry && providedByImage(entry), `${entry} is provided`);
    });
  }
}

test('the service reaches the TPM container over mssim and the database over PostgreSQL', () => {
  const env = (compose.services.kms as { environment?: Record<string, string> }).environment ?? {};
  assert.match(env.DATABASE_URL ?? '', /^postgres:\/\/[^@]+@postgres:5432\//);
  assert.equal(env.SEALKEEP_TPM, 'mssim://tpm:2321');
});
