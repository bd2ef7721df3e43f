// One managed TPM instance and the in-process transport held to its role's rules: the host TPM
// (localities 0–4, the DRTM signals, a measured launch whose event log is kept on disk) or a vTPM
// (localities 0–3, no dynamic launch). TpmManager (tpm-manager.ts) creates, loads and drops them.

import { readFile, rename, writeFile } from 'node:fs/promises';
import { TpmClient } from '../client/client.js';
import type { Transport } from '../client/transport.js';
import type { Tpm } from '../engine/tpm.js';
import type { PersistentTpm } from './persistent-tpm.js';
import { CelLog } from './cel.js';
import { launch, SINIT_LOCALITY, type LaunchOptions, type LaunchResult } from './launch.js';

export type TpmRole = 'host' | 'vtpm';

/**
 * What each role's platform offers. The host TPM is the platform's own: localities 0–4 and the
 * DRTM signals (_TPM_Hash_Start/Data/End, a TXT-style launch). A vTPM is an ordinary TPM inside a
 * VM: no dynamic launch (locality 4 belongs to the CPU's DRTM, which a guest has not), so its PCRs
 * 17–22 read all-FF for its whole life.
 */
export const ROLE_RULES: Readonly<Record<TpmRole, Readonly<{ maxLocality: number; drtm: boolean }>>> = {
  host: { maxLocality: 4, drtm: true },
  vtpm: { maxLocality: 3, drtm: false },
};

export class TpmManagerError extends Error {
  override name = 'TpmManagerError';
}

/** One loaded instance. Commands reach it through transports held to its role's rules. */
export class ManagedTpm {
  #closed = false;

  constructor(
    readonly id: string,
    readonly role: TpmRole,
    private readonly persistent: PersistentTpm,
    /** Where its event logs are kept: the static one and, on the host, the DRTM one beside it. */
    private readonly logPath: (kind: 'static' | 'drtm') => string,
  ) {}

  /**
   * The host's TXT-style dynamic launch (platform/launch.ts). The DRTM event log is written,
   * atomically, beside the static log, so a verifier can replay both against a quote.
   */
  async launch(opts: LaunchOptions): Promise<LaunchResult> {
    if (this.role !== 'host') throw new TpmManagerError(`TPM ${this.id} is a vTPM: it has no dynamic launch`);
    const result = await launch(this.transport(SINIT_LOCALITY), opts);
    const file = this.logPath('drtm');
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, result.log.serialize(), { mode: 0o600 });
    await rename(tmp, file);
    return result;
  }

  /** An event log of this instance (empty when nothing was measured yet). */
  async eventLog(kind: 'static' | 'drtm'): Promise<CelLog> {
    try {
      return CelLog.parse(await readFile(this.logPath(kind), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new CelLog();
      throw e;
    }
  }

  get tpm(): Tpm {
    return this.persistent.tpm;
  }

  /** Suspended or destroyed since it was handed out: get() the instance again. */
  get closed(): boolean {
    return this.#closed;
  }

  /** An in-process transport at `locality` (a LaunchTarget for launch() on the host TPM). */
  transport(locality = 0): InstanceTransport {
    return new InstanceTransport(this, locality);
  }

  /** A client at `locality`; a locality the role's platform does not offer is refused. */
  client(locality = 0): TpmClient {
    return new TpmClient(this.transport(locality));
  }

  /** Wait until every change so far is in the state file. */
  flush(): Promise<void> {
    return this.persistent.flush();
  }

  /** The manager's: save and let go of the state file; this object is then closed. */
  close(): Promise<void> {
    this.#closed = true;
    return this.persistent.close();
  }
}

/**
 * An in-process transport held to the instance's role: only the localities its platform offers,
 * the DRTM signals only on the host TPM, and nothing once the instance was suspended (its state
 * is on disk; a command here would be lost).
 */
export class InstanceTransport implements Transport {
  #locality = 0;

  constructor(
    private readonly instance: ManagedTpm,
    locality: number,
  ) {
    this.locality = locality;
  }

  get locality(): number {
    return this.#locality;
  }

  set locality(locality: number) {
    const { role, id } = this.instance;
    const { maxLocality } = ROLE_RULES[role];
    if (!Number.isInteger(locality) || locality < 0 || locality > maxLocality) {
      throw new TpmManagerError(`${role} TPM ${id} offers localities 0–${maxLocality}, not ${locality}`);
    }
    this.#locality = locality;
  }

  private live(): Tpm {
    if (this.instance.closed) throw new TpmManagerError(`TPM ${this.instance.id} was suspended or destroyed: get() it again`);
    return this.instance.tpm;
  }

  async send(command: Uint8Array): Promise<Buffer> {
    return this.live().execute(command, this.#locality);
  }

  /** _TPM_Hash_Start/Data/End: a dynamic launch, which only the host TPM's platform can make. */
  async dynamicLaunch(data: Buffer): Promise<void> {
    const tpm = this.live();
    if (!ROLE_RULES[this.instance.role].drtm) throw new TpmManagerError(`${this.instance.role} TPM ${this.instance.id} has no dynamic launch (DRTM)`);
    tpm.hashStart();
    tpm.hashData(data);
    tpm.hashEnd();
  }
}
