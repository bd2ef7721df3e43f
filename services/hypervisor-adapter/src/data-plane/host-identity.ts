// The adapter's data-plane identity: the host attests (TPM credential activation and a quote of
// its measured launch, @sealkeep/sdk attestHost), and the adapter's key is the host's hypervisor
// principal until the attestation period runs out. It attests again when two thirds of the
// period have passed (retrying every few seconds if that fails, and logging when it lapses), so
// block sessions, which end once it lapses, keep going.

import type { KeyObject } from 'node:crypto';
import { attestHost, signedRequest, type HostPlatform, type Signer } from '@sealkeep/sdk';
import type { Logger } from '../logger.js';

export interface HostIdentityOptions {
  platform: HostPlatform;
  dataUrl: string;
  /** The service key block sessions must be proven by (service-key.ts). */
  serviceKey: KeyObject;
  hostId: string;
  adapterKey: KeyObject;
  log: Logger;
  /** The share of the attestation period after which the host attests again (default 2/3). */
  renewAt?: number;
}

/** Attest again after this share of the period (and retry after failures every RETRY_MS at most). */
const RENEW_AT = 2 / 3;
const RETRY_MS = 5_000;

export class HostIdentity {
  readonly dataUrl: string;
  readonly hostId: string;
  readonly serviceKey: KeyObject;
  principalId = '';
  /** How the audit trail names the adapter (`hv:…`): what a delegation's next actor must say. */
  label = '';
  attestedUntil = new Date(0);
  readonly #o: HostIdentityOptions;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  private constructor(o: HostIdentityOptions) {
    this.#o = o;
    this.dataUrl = o.dataUrl;
    this.hostId = o.hostId;
    this.serviceKey = o.serviceKey;
  }

  /** Attests now (a failure throws: nothing can be served), and keeps attesting. */
  static async attest(o: HostIdentityOptions): Promise<HostIdentity> {
    const identity = new HostIdentity(o);
    await identity.#attest();
    identity.#schedule();
    return identity;
  }

  /** Requests as the adapter, acting for a tenant's principal when given a delegation token. */
  signer(delegation?: string): Signer {
    return { principalId: this.principalId, key: this.#o.adapterKey, ...(delegation ? { delegation } : {}) };
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #attest(): Promise<void> {
    const { platform, dataUrl, hostId, adapterKey } = this.#o;
    const a = await attestHost(platform, { dataUrl, hostId, adapterKey });
    this.principalId = a.principalId;
    this.attestedUntil = new Date(a.attestedUntil);
    const self = (await signedRequest(dataUrl, this.signer(), 'GET', '/v1/self')) as { name: string };
    this.label = `hv:${self.name}`;
    this.#o.log.info({ hostId, principal: this.label, attestedUntil: a.attestedUntil }, 'host attested');
  }

  #schedule(delay = Math.max(1_000, (this.attestedUntil.getTime() - Date.now()) * (this.#o.renewAt ?? RENEW_AT))): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#renew(), delay);
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    try {
      await this.#attest();
      this.#schedule();
    } catch (error) {
      const left = this.attestedUntil.getTime() - Date.now();
      const lapsed = left <= 0;
      this.#o.log[lapsed ? 'error' : 'warn']({ hostId: this.hostId, err: error, attestedUntil: this.attestedUntil.toISOString() }, lapsed ? 'host attestation lapsed: block sessions end; attesting again' : 'host attestation failed; trying again');
      this.#schedule(lapsed ? RETRY_MS * 6 : Math.min(RETRY_MS, Math.max(1_000, left / 4)));
    }
  }
}
