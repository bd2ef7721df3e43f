// Test set-up for key features: a host TPM in process (manufactured, in a temporary data
// directory) and a key engine over it with a random service root.

import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { loadAk, loadSrk, openHostTpm, type HostTpm } from '../../platform/host-tpm.js';
import { KeyEngine, type KeyEngineOptions } from './key-engine.js';
import { KEY_TYPE_SPECS, type KeyType } from './key-types.js';
import { newKeyPair } from '@sealkeep/crypto';

/** Fresh material of a key type as a tenant would bring it: raw bytes, or PKCS#8 DER. */
export function materialFor(type: KeyType): Buffer {
  const spec = KEY_TYPE_SPECS[type];
  if (spec.kind === 'secret' || spec.kind === 'hmac') return randomBytes(spec.length!.max);
  const pair = spec.kind === 'ec' ? newKeyPair('ec', { namedCurve: spec.curve! }) : newKeyPair('rsa', { modulusLength: spec.bits! });
  return pair.privateKey.export({ type: 'pkcs8', format: 'der' });
}

export interface TestEngine {
  host: HostTpm;
  engine: KeyEngine;
  dataDir: string;
  close(): Promise<void>;
}

export async function openTestEngine(opts: KeyEngineOptions = {}): Promise<TestEngine> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-keys-'));
  const host = await openHostTpm({ url: null, dataDir });
  const engine = new KeyEngine(host.client, await loadSrk(host.client), await loadAk(host.client), randomBytes(32), opts);
  return {
    host,
    engine,
    dataDir,
    async close() {
      await host.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
