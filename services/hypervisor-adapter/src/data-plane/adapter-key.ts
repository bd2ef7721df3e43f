// The adapter's own key: its data-plane identity once the host attests (the service keeps only
// the public half, as the host's hypervisor principal). A PKCS#8 PEM file readable by its owner
// only; made (ECDSA P-256) the first time, never overwritten.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { newKeyPair } from '@sealkeep/crypto';

export async function loadAdapterKey(file: string): Promise<{ key: KeyObject; created: boolean }> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const { privateKey } = newKeyPair('ec', { namedCurve: 'P-256' });
    await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    return { key: privateKey, created: true };
  }
  if ((await stat(file)).mode & 0o077) throw new Error(`${file}: the adapter key is readable by others; chmod 600 it`);
  return { key: createPrivateKey(pem), created: false };
}
