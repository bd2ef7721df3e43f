// Test set-up for key features: a host TPM in process (manufactured, in a temporary data
// directory) and a key engine over it with a random service root.

import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { loadAk, loadSrk, openHostTpm, type HostTpm } from '../../platform/host-tpm.js';
import { KeyEngine, type KeyEngineOptions } from './key-engine.js';

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
