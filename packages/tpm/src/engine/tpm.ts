// One TPM: its subsystems and its life cycle (Part 1 §12: _TPM_Init, Startup, Shutdown, TPM
// reset / restart / resume) and the platform's DRTM interface (_TPM_Hash_Start/Data/End).
// Commands reach the subsystems; callers reach the TPM only through execute().

import { TPM_RC, TPM_SU, TPMA_CC } from '../wire/constants.js';
import { ALL_COMMANDS } from '../commands/index.js';
import { commandAttributes } from '../commands/capability/command-attributes.js';
import { fail, type AnyCommand } from './command.js';
import { Clock } from './clock.js';
import { DictionaryAttack } from './dictionary-attack.js';
import { Entities } from './entities.js';
import { execCommand } from './exec-command.js';
import { Hierarchies } from './hierarchy.js';
import { NvStore } from './nv.js';
import { ObjectSlots } from './objects.js';
import { PcrBanks } from './pcr-banks.js';
import { SessionTable } from './sessions.js';
import { HandleJournal } from './handle-journal.js';

const COMMAND_TABLE: ReadonlyMap<number, AnyCommand> = new Map(ALL_COMMANDS.map((c) => [c.code, c]));
/** Commands that may write NV (TPMA_CC.nv): after one succeeds, the platform persists the TPM. */
const NV_COMMANDS: ReadonlySet<number> = new Set(ALL_COMMANDS.filter((c) => commandAttributes(c) & TPMA_CC.nv).map((c) => c.code));

/** What TPM2_Shutdown saved (NV state): the type, and for STATE the PCRs the profile preserves. */
export interface ShutdownState {
  type: number;
  pcrs: Record<number, string[]>;
}

export interface TpmOptions {
  /** Called when a command hits an internal error (a bug); the caller got TPM_RC_FAILURE. */
  onInternalError?: (err: unknown) => void;
  /**
   * Called after a command that changed what a TPM keeps in NV: a TPMA_CC.nv command that
   * succeeded, or a failed authorization counted toward lockout. The platform persists the
   * TPM (platform/persistent-tpm.ts).
   */
  onPersistentChange?: () => void;
}

export class Tpm {
  readonly commands = COMMAND_TABLE;
  readonly pcr = new PcrBanks();
  readonly hierarchy = new Hierarchies();
  /** Transient and session handles created and removed by the command in progress. */
  private readonly journal = new HandleJournal();
  readonly objects = new ObjectSlots(this.journal);
  readonly sessions = new SessionTable(this.journal);
  readonly nv = new NvStore();
  readonly clock = new Clock();
  readonly da = new DictionaryAttack(() => Date.now());
  readonly entities = new Entities(this);

  powered = true;
  started = false;
  failureMode = false;
  /** The last Startup followed an orderly Shutdown (TPMA_STARTUP_CLEAR.orderly). */
  orderlyStartup = false;
  /** Which connection created each transient object and session (resource-manager contexts). */
  private readonly owners = new Map<number, number>();
  private connection: number | undefined;
  /**
   * What the last Shutdown saved: decides whether the next Startup is a reset, restart or
   * resume. Null since the last Startup: a power loss now is not orderly. (NV state.)
   */
  shutdown: ShutdownState | null = null;
  /** Startup has run at least once since manufacture (NV state): a later start without Shutdown lost power. */
  hasStarted = false;
  private drtm: Buffer[] | null = null;

  constructor(private readonly options: TpmOptions = {}) {}

  /**
   * Execute one command buffer received at `locality` (0–4). Never throws. `connection`
   * identifies a resource-manager context: transient objects and sessions it creates are
   * visible only to it and are flushed by releaseConnection().
   */
  execute(command: Uint8Array, locality = 0, connection?: number): Buffer {
    this.journal.reset();
    if (connection === undefined) return this.run(command, locality);
    this.connection = connection;
    try {
      return this.run(command, locality);
    } finally {
      this.connection = undefined;
      for (const h of this.journal.removed) this.owners.delete(h);
      for (const h of this.journal.added) if (this.objects.has(h) || this.sessions.has(h)) this.owners.set(h, connection);
    }
  }

  private run(command: Uint8Array, locality: number): Buffer {
    const onChange = this.options.onPersistentChange;
    if (!onChange) return execCommand(this, command, locality);
    const daBefore = this.da.changes;
    const response = execCommand(this, command, locality);
    const succeeded = response.readUInt32BE(6) === TPM_RC.SUCCESS;
    const code = command.length >= 10 ? Buffer.from(command.buffer, command.byteOffset, command.length).readUInt32BE(6) : 0;
    if ((succeeded && NV_COMMANDS.has(code)) || this.da.changes !== daBefore) onChange();
    return response;
  }

  /** A transient object or session is hidden from connections other than its creator. */
  isVisible(handle: number): boolean {
    const owner = this.owners.get(handle);
    return owner === undefined || this.connection === undefined || owner === this.connection;
  }

  /** A client disconnected: flush everything its context created. */
  releaseConnection(connection: number): void {
    for (const [h, owner] of this.owners) {
      if (owner !== connection) continue;
      this.owners.delete(h);
      if (this.objects.has(h)) this.objects.flush(h);
      else this.sessions.flush(h);
    }
  }

  powerOn(): void {
    if (this.powered) return;
    this.powered = true;
    this.init();
  }

  powerOff(): void {
    this.powered = false;
    this.started = false;
  }

  reportInternalError(err: unknown): void {
    this.options.onInternalError?.(err);
  }

  /** _TPM_Init: power-on or platform reset. The TPM then accepts only Startup. */
  init(): void {
    this.started = false;
    this.drtm = null;
    this.sessions.clear();
    this.objects.flushTransient();
    this.owners.clear();
    this.clock.powerOn();
  }

  /** TPM2_Startup (Part 3 §9.3). */
  startup(type: number): void {
    if (this.started) fail(TPM_RC.INITIALIZE);
    const saved = this.shutdown;
    if (type === TPM_SU.STATE) {
      if (!saved || saved.type !== TPM_SU.STATE) fail(TPM_RC.VALUE);
      // TPM Resume: the PCRs the profile preserves come back as they were saved, the others
      // (16, 23, and the DRTM PCRs 17–22) start afresh.
      this.pcr.startupClear();
      this.pcr.restore(saved.pcrs);
      this.clock.onTpmRestart();
    } else if (saved?.type === TPM_SU.STATE) {
      // TPM Restart: PCRs reinitialised, the rest of the saved state kept.
      this.pcr.startupClear();
      this.nv.onStartupClear();
      this.hierarchy.onStartupClear(false);
      this.clock.onTpmRestart();
    } else {
      // TPM Reset.
      this.pcr.startupClear();
      this.nv.onStartupClear();
      this.hierarchy.onTpmReset();
      this.clock.onTpmReset();
      this.da.onTpmReset();
      this.sessions.flushSaved();
    }
    if (saved === null && this.hasStarted) {
      // Power was lost without Shutdown (reference TimeStartup, DAStartup): Clock may have gone
      // back, and a failed authorization may have gone unrecorded.
      this.clock.safe = false;
      this.da.onNonOrderlyStartup();
    }
    this.orderlyStartup = saved !== null;
    this.shutdown = null;
    this.hasStarted = true;
    this.started = true;
  }

  /** TPM2_Shutdown (Part 3 §9.4). */
  shutdownTpm(type: number): void {
    this.shutdown = { type, pcrs: this.pcr.snapshot() };
  }

  // ---- the platform's DRTM interface (locality 4 only; the transport enforces it) ----

  hashStart(): void {
    this.drtm = [];
  }

  hashData(data: Uint8Array): void {
    this.drtm?.push(Buffer.from(data));
  }

  /** _TPM_Hash_End: PCRs 17–22 reset, PCR 17 extended with H(data) in every bank. */
  hashEnd(): void {
    if (!this.drtm) return;
    const data = Buffer.concat(this.drtm);
    this.drtm = null;
    this.pcr.dynamicLaunch(data);
  }
}
