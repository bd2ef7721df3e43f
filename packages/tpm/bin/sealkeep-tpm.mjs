#!/usr/bin/env node
// Launcher. In a checkout (tsx installed) it runs the TypeScript sources, so it never runs a
// stale build; where tsx is absent (the production image prunes dev dependencies) it runs dist/.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
let haveTsx = false;
try {
  createRequire(import.meta.url).resolve('tsx');
  haveTsx = true;
} catch {}

if (haveTsx && existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(fileURLToPath(new URL('../dist/cli.js', import.meta.url))).href);
}
