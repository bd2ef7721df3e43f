// What the keys feature needs from the platform: the key engine over the host TPM (present only
// once the service root is unsealed) and the manufacturer's certificates that make import
// evidence. Without an engine every key route answers 503 keys-unavailable.

import { X509Certificate } from 'node:crypto';
import { Problem } from '../../http/problems.js';
import { readEndorsement, type HostTpm } from '../../platform/host-tpm.js';
import type { KeyEngine } from './key-engine.js';

export interface Endorsement {
  ekCertificatePem: string;
  akCertificatePem: string;
  /** The manufacturer root, when the service knows it (the emulated TPM's); informational only. */
  manufacturerRootPem: string | null;
}

export interface KeysContext {
  engine: KeyEngine;
  /** Null when the host TPM holds no EK and AK certificates: import jobs cannot prove anything then. */
  endorsement: Endorsement | null;
}

/** The context of a service whose host TPM is open and whose root is unsealed. */
export async function keysContext(host: HostTpm, engine: KeyEngine, manufacturerRootPem: string | null): Promise<KeysContext> {
  const e = await readEndorsement(host.client);
  const pem = (der: Buffer) => new X509Certificate(der).toString();
  return { engine, endorsement: e ? { ekCertificatePem: pem(e.ekCertificate), akCertificatePem: pem(e.akCertificate), manufacturerRootPem } : null };
}

export function requireKeys(ctx: KeysContext | undefined): KeysContext {
  if (!ctx) throw new Problem('keys-unavailable', 'the service runs without an unsealed root (no operator yet, or started without a host TPM)');
  return ctx;
}
