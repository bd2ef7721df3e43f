// For tests and benchmarks: both engines by name, the native one with the reason it is missing
// when the addon is not built, so a test can skip with that message instead of passing silently;
// what the CPU offers, read from the kernel rather than from the addon, for the tests that hold
// the addon's own paths (AVX-512 lanes, VAES) to what this CPU should take; and node:crypto's
// AES-256-GCM, the reference sealed bodies must equal.

import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

/** Whether the kernel lists every one of `flags` for this CPU (/proc/cpuinfo); false where it cannot be read. */
export function cpuHas(...flags: string[]): boolean {
  try {
    const listed = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
    return flags.every((f) => listed.includes(f));
  } catch {
    return false;
  }
}

/** node:crypto's one-shot AES-256-GCM of `body`: the ciphertext and tag, or (authenticateOnly) the body as it is and the GMAC of aad ‖ body. */
export function gcmReference(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, body: Buffer, authenticateOnly: boolean): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(authenticateOnly ? Buffer.concat([aad, body]) : aad);
  const ciphertext = authenticateOnly ? Buffer.from(body) : Buffer.concat([cipher.update(body), cipher.final()]);
  if (authenticateOnly) cipher.final();
  return { ciphertext, tag: cipher.getAuthTag() };
}
