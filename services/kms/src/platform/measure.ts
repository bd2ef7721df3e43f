// What the service measures about itself at start: its code and its configuration, as the two
// images of its TXT-style launch (launch.ts in @sealkeep/tpm):
//
//   PCR 17  H(SINIT)           SERVICE_SINIT, the fixed launch environment of the service
//   PCR 18  H(code manifest)   the MLE: `sha256sum`-style lines, one per file the service loads
//   PCR 19  H(configuration)   canonical JSON of the resolved configuration, secrets redacted
// (the values and the root key's policy: @sealkeep/attestation's service/measured-start.ts)
//
// The code manifest covers the service and the workspaces it runs (their src/ when started from
// source, dist/ when built), their package.json files, the native addon if built, and the
// lock file that pins every third-party dependency. Tests and benchmarks are not loaded and
// not measured. A reviewer recomputes the manifest with `sha256sum` over the same files.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalize } from '@sealkeep/attestation';

/** The workspaces whose code the service runs, relative to the repository root. */
const WORKSPACES = ['services/kms', 'packages/tpm', 'packages/crypto', 'packages/attestation', 'packages/store', 'migrations'];
const CODE_FILE = /\.(ts|js|mjs|cjs|json|node)$/;
const NOT_LOADED = /(\.test\.|\.fixture\.|\.d\.ts$|\.map$|tsconfig.*\.json$)/;

export interface ServiceMeasurements {
  /** The code manifest (MLE image): `<sha256>  <path>` lines, sorted by path. */
  codeManifest: string;
  codeDigest: string;
  /** The configuration document (module image), canonical JSON. */
  configuration: string;
  configurationDigest: string;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The repository (or image) root the running service was loaded from. */
export function serviceRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'bench') walk(full, out);
    } else if (entry.isFile() && CODE_FILE.test(entry.name) && !NOT_LOADED.test(entry.name)) {
      out.push(full);
    }
  }
}

/** The files the service loads from `root`: `src` trees when `fromSource`, `dist` trees otherwise. */
export function codeFiles(root: string, fromSource: boolean): string[] {
  const files: string[] = [];
  for (const ws of WORKSPACES) {
    const base = path.join(root, ws);
    const tree = ws === 'migrations' ? (fromSource ? base : path.join(base, 'dist')) : path.join(base, fromSource ? 'src' : 'dist');
    if (ws === 'migrations' && fromSource) {
      for (const f of readdirSync(base)) if (/\.ts$/.test(f) && !NOT_LOADED.test(f)) files.push(path.join(base, f));
    } else if (existsSync(tree)) {
      walk(tree, files);
    }
    if (existsSync(path.join(base, 'package.json'))) files.push(path.join(base, 'package.json'));
  }
  const addon = path.join(root, 'packages/tpm/native/build/Release');
  if (existsSync(addon)) walk(addon, files);
  for (const f of ['package.json', 'package-lock.json']) if (existsSync(path.join(root, f))) files.push(path.join(root, f));
  return [...new Set(files)].filter((f) => statSync(f).isFile());
}

export function codeManifest(root: string, fromSource: boolean): string {
  const lines = codeFiles(root, fromSource)
    .map((f) => [path.relative(root, f).split(path.sep).join('/'), f] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([rel, full]) => `${sha256(readFileSync(full))}  ${rel}\n`);
  return lines.join('');
}

/** Measure the running service: its code (from where it was loaded) and `configuration`. */
export function measureService(configuration: Record<string, unknown>, root = serviceRoot()): ServiceMeasurements {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  const manifest = codeManifest(root, fromSource);
  const config = canonicalize(configuration);
  return { codeManifest: manifest, codeDigest: sha256(manifest), configuration: config, configurationDigest: sha256(config) };
}
