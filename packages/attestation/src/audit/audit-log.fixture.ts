// Test support for the audit tests: AK key pairs whose signers behave like TPM2_Sign (ECDSA P-256
// r||s, or DER, or RSASSA-PKCS1-v1_5), and a deterministic log of N entries with a signed
// checkpoint every K entries, as the service would export it.

import { sign, type KeyObject } from 'node:crypto';
import { makeCheckpoint, type Checkpoint, type CheckpointSigner } from './checkpoint.js';
import { sealEntry, type AuditEntry, type AuditEntryFields, type ChainHead } from './entry.js';
import { newKeyPair } from '@sealkeep/crypto';

export interface TestAk {
  privateKey: KeyObject;
  publicKeyPem: string;
  signer: CheckpointSigner;
}

export function newAk(kind: 'es256' | 'es256-der' | 'rs256' = 'es256'): TestAk {
  const { privateKey, publicKey } =
    kind === 'rs256' ? newKeyPair('rsa', { modulusLength: 2048 }) : newKeyPair('ec', { namedCurve: 'P-256' });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  // node signs the message (hashing it itself); the TPM signs the digest — the same signature.
  const signer: CheckpointSigner = async (_digest, message) => {
    if (kind === 'rs256') return { alg: 'RS256', value: sign('sha256', message, privateKey).toString('base64') };
    const dsaEncoding = kind === 'es256' ? 'ieee-p1363' : 'der';
    return { alg: 'ES256', value: sign('sha256', message, { key: privateKey, dsaEncoding }).toString('base64') };
  };
  return { privateKey, publicKeyPem, signer };
}

const PLANES = ['tenant', 'data', 'admin', 'compliance'] as const;
const OUTCOMES = ['success', 'success', 'denied', 'failure'] as const;

/** The fields of the i-th event of the sample log (deterministic). */
export function sampleFields(i: number): AuditEntryFields {
  const plane = PLANES[i % 4]!;
  return {
    time: new Date(Date.UTC(2025, 0, 31, 12, 0, 0) + i * 1500).toISOString(),
    tenantId: plane === 'admin' ? null : `tenant-${i % 3}`,
    plane,
    principal: `tn:tenant-${i % 3}/user-${i % 7}`,
    actorChain: i % 5 === 0 ? [`tn:tenant-${i % 3}/user-${i % 7}`, 'cms:vcloud-svc', `hv:vpxuser@host-0${i % 9}`] : [`tn:tenant-${i % 3}/user-${i % 7}`],
    action: ['key.import', 'key.rotate', 'volume.unwrap', 'policy.write'][i % 4]!,
    resource: `key:tenant-${i % 3}/k-${i % 11}`,
    outcome: OUTCOMES[i % 4]!,
    requestId: `req-${i.toString(16).padStart(8, '0')}`,
    ...(i % 2 === 0 ? { details: { keyVersion: i, kekDigest: (i * 7919).toString(16).padStart(64, 'a'), exportable: false, note: null } } : {}),
  };
}

export interface SampleLog {
  items: Array<AuditEntry | Checkpoint>;
  entries: AuditEntry[];
  checkpoints: Checkpoint[];
  ak: TestAk;
}

/** n entries, with a checkpoint after every `every`-th entry and after the last; TPM clock +1 s per checkpoint. */
export async function sampleLog(n: number, every = 100, ak: TestAk = newAk()): Promise<SampleLog> {
  const items: Array<AuditEntry | Checkpoint> = [];
  const entries: AuditEntry[] = [];
  const checkpoints: Checkpoint[] = [];
  let head: ChainHead | null = null;
  for (let i = 1; i <= n; i++) {
    const e = sealEntry(sampleFields(i), head);
    head = e;
    items.push(e);
    entries.push(e);
    if (i % every === 0 || i === n) {
      const cp = await makeCheckpoint(head, tpmClockAt(checkpoints.length), ak.signer, ak.publicKeyPem);
      items.push(cp);
      checkpoints.push(cp);
    }
  }
  return { items, entries, checkpoints, ak };
}

/** The TPM clock of the k-th checkpoint of the sample log. */
export const tpmClockAt = (k: number) => ({ clock: 8_000_000_000n + BigInt(k) * 1000n, resetCount: 3, restartCount: 1 });
