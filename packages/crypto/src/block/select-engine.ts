// Which block engine runs: the native addon when it loads, else pure Node. The environment
// variable SEALKEEP_CRYPTO_NATIVE overrides: `0` forces pure Node, `1` requires the addon (an
// error at selection if it does not load, instead of a silent slow path).

import type { BlockCryptoEngine } from './engine.js';
import { nativeBlockCryptoEngine, nativeLoadError } from './native-engine.js';
import { nodeBlockCryptoEngine } from './node-engine.js';

export const NATIVE_ENGINE_ENV = 'SEALKEEP_CRYPTO_NATIVE';

export function selectBlockCryptoEngine(env: NodeJS.ProcessEnv = process.env): BlockCryptoEngine {
  const wanted = env[NATIVE_ENGINE_ENV];
  if (wanted === '0') return nodeBlockCryptoEngine;
  const native = nativeBlockCryptoEngine();
  if (native) return native;
  if (wanted === '1') {
    const cause = nativeLoadError();
    throw new Error(`${NATIVE_ENGINE_ENV}=1 but the native block-crypto addon did not load: ${cause?.message}`, { cause });
  }
  return nodeBlockCryptoEngine;
}
