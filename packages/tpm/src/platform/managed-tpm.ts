// One managed TPM instance and the in-process transport held to its role's rules: the host TPM
// (localities 0–4, the DRTM signals, a measured launch whose event log is kept on disk) or a vTPM
// (localities 0–3, no dynamic launch; a VM's reboot is a power cycle that keeps its seeds, and its
// measured boot is kept as the static event log). TpmManager (tpm-manager.ts) creates, loads,
// restarts and drops them.

import { readFile, rename, writeFile } from 'node:fs/promises';
import { TpmClient } from '../client/client.js';
import type { Transport } from '../client/transport.js';
import type { Tpm } from '../engine/tpm.js';
import { Shutdown, Startup } from '../commands/startup/index.js';
import { TPM_SU } from '../wire/constants.js';
import type { PersistentTpm } from './persistent-tpm.js';
import { CelLog } from './cel.js';
import { launch, SINIT_LOCALITY, type LaunchOptions, type LaunchResult } from './launch.js';
import { checkVmBootLog, measureVmBoot, readVmPcrs } from './vm-boot.js';

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

/** Numbers each event log write's temporary file, so two writes in flight never share one. */
let logWrites = 0;

export class TpmManagerError extends Error {
  override name = 'TpmManagerError';
}

/** One loaded instance. Commands reach it through transports held to its role's rules. */
export class ManagedTpm {
  #closed = false;
  #measuring = false;

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
    await this.writeLog('drtm', result.log);
    return result;
  }

  /**
   * The manager's (TpmManager.restart, under its lock): a VM reboot. Shutdown(CLEAR) if started,
   * _TPM_Init, Startup(CLEAR) — a TPM Reset: PCRs at their initial values, transient objects and
   * sessions gone, a new null seed; the endorsement, owner and platform seeds, NV and persistent
   * objects kept. The three run in one turn of the event loop, so no other client's command
   * lands between them. Saved, and the static event log emptied (the new boot starts a new log),
   * before this returns.
   */
  async powerCycle(): Promise<void> {
    if (this.role !== 'vtpm') throw new TpmManagerError(`TPM ${this.id} is the host TPM: its reboots are the platform's, not the service's`);
    if (this.#closed) throw new TpmManagerError(`TPM ${this.id} was suspended or destroyed: get() it again`);
    // A reset in the middle of a measurement would leave a log that does not replay to the PCRs.
    if (this.#measuring) throw new TpmManagerError(`TPM ${this.id} is measuring a boot: restart it once that is done`);
    const tpm = this.tpm;
    if (tpm.started) TpmClient.unmarshalResponse(Shutdown, tpm.execute(TpmClient.marshalCommand(Shutdown, {}, { shutdownType: TPM_SU.CLEAR })));
    tpm.init();
    TpmClient.unmarshalResponse(Startup, tpm.execute(TpmClient.marshalCommand(Startup, {}, { startupType: TPM_SU.CLEAR })));
    await this.flush();
    await this.writeLog('static', new CelLog());
  }

  /**
   * Measure a VM's boot (vm-boot.ts) into this vTPM and keep its log as the static event log,
   * so the log on disk replays to the PCRs. Only on a freshly started boot: an empty static log
   * and PCRs 0–15 at zero (restart() the instance to measure another boot). The log is checked
   * first (VmBootLogError); the records actually extended are written even if an extend fails.
   * Returns PCRs 0–15 of the SHA-256 bank, index → lower-case hex.
   */
  async measureBoot(input: unknown): Promise<Record<number, string>> {
    if (this.role !== 'vtpm') throw new TpmManagerError(`TPM ${this.id} is the host TPM: VM boots are measured into vTPMs`);
    if (this.#measuring) throw new TpmManagerError(`TPM ${this.id} is already measuring a boot`);
    this.#measuring = true;
    try {
      const records = checkVmBootLog(input);
      const client = this.client();
      const fresh = (await this.eventLog('static')).length === 0 && Object.values(await readVmPcrs(client)).every((v) => /^0+$/.test(v));
      if (!fresh) throw new TpmManagerError(`TPM ${this.id} has measured since its last start: restart() it before measuring a boot`);
      const log = new CelLog();
      try {
        return await measureVmBoot(client, records, { log });
      } finally {
        await this.writeLog('static', log);
      }
    } finally {
      this.#measuring = false;
    }
  }

  /** Replace an event log file atomically (a temporary file in the same directory, renamed). */
  private async writeLog(kind: 'static' | 'drtm', log: CelLog): Promise<void> {
    const file = this.logPath(kind);
    const tmp = `${file}.${process.pid}.${++logWrites}.tmp`;
    await writeFile(tmp, log.serialize(), { mode: 0o600 });
    await rename(tmp, file);
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
