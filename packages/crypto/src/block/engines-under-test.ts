// For tests and benchmarks: both engines by name, the native one with the reason it is missing
// when the addon is not built, so a test can skip with that message instead of passing silently.

import type { BlockCryptoEngine } from './engine.js';
import { nativeBlockCryptoEngine, nativeLoadError } from './native-engine.js';
import { nodeBlockCryptoEngine } from './node-engine.js';

export interface EngineUnderTest {
  name: 'native' | 'node';
  engine: BlockCryptoEngine | null;
  /** false, or why the engine cannot run here */
  skip: string | false;
}

export function enginesUnderTest(): EngineUnderTest[] {
  const native = nativeBlockCryptoEngine();
  return [
    { name: 'native', engine: native, skip: native ? false : `native addon not loadable (${nativeLoadError()?.message.split('\n')[0]}); run node scripts/build-native.mjs` },
    { name: 'node', engine: nodeBlockCryptoEngine, skip: false },
  ];
}
