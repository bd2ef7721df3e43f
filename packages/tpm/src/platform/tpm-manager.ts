// Many TPMs in one process: the host TPM and one vTPM per VM, each with its own seeds, its own
// encrypted state file and rollback counter under the manager's directory, and its own locality
// rules. Instances are created, loaded on demand, suspended (Shutdown(STATE), saved, dropped from
// memory), restarted (a VM reboot: a TPM Reset keeping seeds, NV and persistent objects; vTPMs
// only) and destroyed (state and counter erased: the vTPM's keys are gone) by id, and any of
// them can be served over mssim on its own port pair for tools.
//
// Files: <dir>/<id>.<role>.tpmstate (the state file), <dir>/<id>.{static,drtm}.cel.json (its event
// logs) and <counterDir>/<id>.counter (the monotonic
// counter that detects a rolled-back state file; counterDir defaults to dir but belongs on other
// storage). Ids are letters, digits, '-' and '_' — no dots or slashes, so an id cannot leave the
// directory and every file named "<id>.…" is that instance's alone.
//
// Why a port pair per instance rather than one port with a selector: tpm2-tss's mssim TCTI has no
// way to send a selector, so tools could reach only a default instance; a port pair per instance
// works with every mssim client unchanged. (The server resolves its TPM per connection, so an
// instance suspended while served is loaded again when the next client connects.)

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Shutdown, Startup } from '../commands/startup/index.js';
import { TPM_RC, TPM_SU } from '../wire/constants.js';
import { TpmError } from '../wire/rc.js';
import { MssimServer, type MssimTarget } from '../transport/mssim-server.js';
import { provisionEndorsement } from './endorsement.js';
import type { ManufacturerCa } from './manufacturer-ca.js';
import { openPersistentTpm, type PersistentTpm } from './persistent-tpm.js';
import { ManagedTpm, ROLE_RULES, TpmManagerError, type TpmRole } from './managed-tpm.js';

export { InstanceTransport, ManagedTpm, ROLE_RULES, TpmManagerError, type TpmRole } from './managed-tpm.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const STATE_FILE = /^([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.(host|vtpm)\.tpmstate$/;


export function validateId(id: string): string {
  if (typeof id !== 'string' || !ID.test(id)) {
    throw new TpmManagerError(`invalid TPM id ${JSON.stringify(id)}: 1–64 letters, digits, '-' or '_', starting with a letter or digit`);
  }
  return id;
}

export interface TpmManagerOptions {
  /** Where the state files live (created if missing). */
  dir: string;
  /** The platform key that encrypts and authenticates every state file; never stored under `dir`. */
  platformKey: Buffer;
  /** Where the rollback counters live (default: `dir`); ideally storage an attacker cannot roll back with it. */
  counterDir?: string;
  /** Called when a command hits an internal error (a bug) in any instance. */
  onInternalError?: (id: string, err: unknown) => void;
}

export interface CreateOptions {
  role?: TpmRole;
  /** Provision the default EKs and their certificates (NV 0x01C00002 RSA, 0x01C0000A ECC) signed by this CA. */
  ca?: ManufacturerCa;
}

export interface InstanceInfo {
  id: string;
  role: TpmRole;
  /** In memory (otherwise suspended: on disk only). */
  loaded: boolean;
  /** The command port it is served on, if any (the platform port is one above). */
  port?: number;
}

export class TpmManager {
  /** Every instance the directory holds, by id: its role. */
  private readonly known = new Map<string, TpmRole>();
  private readonly loaded = new Map<string, ManagedTpm>();
  private readonly servers = new Map<string, MssimServer>();
  /** Operations on one id run one after another (create, load, suspend, destroy). */
  private readonly locks = new Map<string, Promise<void>>();

  private constructor(private readonly opts: TpmManagerOptions & { counterDir: string }) {}

  static async open(opts: TpmManagerOptions): Promise<TpmManager> {
    if (!Buffer.isBuffer(opts.platformKey) || opts.platformKey.length < 32) throw new TpmManagerError('the platform key must be at least 32 bytes');
    const full = { ...opts, counterDir: opts.counterDir ?? opts.dir };
    await mkdir(full.dir, { recursive: true, mode: 0o700 });
    await mkdir(full.counterDir, { recursive: true, mode: 0o700 });
    const manager = new TpmManager(full);
    for (const name of await readdir(full.dir)) {
      const m = STATE_FILE.exec(name);
      if (!m) continue;
      const [, id, role] = m as unknown as [string, string, TpmRole];
      if (manager.known.has(id)) throw new TpmManagerError(`TPM ${id} has two state files in ${full.dir}`);
      if (role === 'host' && manager.hostId() !== undefined) throw new TpmManagerError(`two host TPMs in ${full.dir}: ${manager.hostId()} and ${id}`);
      manager.known.set(id, role);
    }
    return manager;
  }

  /** The id of the host TPM, if there is one. */
  hostId(): string | undefined {
    for (const [id, role] of this.known) if (role === 'host') return id;
    return undefined;
  }

  list(): InstanceInfo[] {
    return [...this.known]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, role]) => ({ id, role, loaded: this.loaded.has(id), ...(this.servers.has(id) ? { port: this.servers.get(id)!.commandPort } : {}) }));
  }

  has(id: string): boolean {
    return this.known.has(id);
  }

  /**
   * A new TPM with fresh seeds, started (Startup(CLEAR)), its EKs certified by `ca` when given,
   * and saved before this returns. At most one instance has the host role.
   */
  create(id: string, opts: CreateOptions = {}): Promise<ManagedTpm> {
    validateId(id);
    const role = opts.role ?? 'vtpm';
    if (!(role in ROLE_RULES)) throw new TpmManagerError(`unknown TPM role ${JSON.stringify(role)}`);
    return this.exclusive(id, async () => {
      if (this.known.has(id)) throw new TpmManagerError(`TPM ${id} already exists`);
      const host = this.hostId();
      if (role === 'host' && host !== undefined) throw new TpmManagerError(`there is already a host TPM (${host})`);
      // Left-overs of an instance destroyed half-way (a crash) must not be taken for this one's.
      await this.erase(id, { scan: false });
      this.known.set(id, role);
      try {
        const instance = new ManagedTpm(id, role, await this.open(id, role), (kind) => this.logPath(id, kind));
        await instance.client().call(Startup, {}, { startupType: TPM_SU.CLEAR });
        if (opts.ca) await provisionEndorsement(instance.client(), opts.ca);
        await instance.flush();
        this.loaded.set(id, instance);
        return instance;
      } catch (e) {
        this.known.delete(id);
        await this.erase(id, { scan: true });
        throw e;
      }
    });
  }

  /** The instance, loaded from its state file (and started) when it was suspended. */
  get(id: string): Promise<ManagedTpm> {
    const ready = this.loaded.get(id);
    if (ready && !this.locks.has(id)) return Promise.resolve(ready);
    validateId(id);
    return this.exclusive(id, () => this.load(id));
  }

  private async load(id: string): Promise<ManagedTpm> {
    const ready = this.loaded.get(id);
    if (ready) return ready;
    const role = this.known.get(id);
    if (!role) throw new TpmManagerError(`no TPM ${id}`);
    const instance = new ManagedTpm(id, role, await this.open(id, role), (kind) => this.logPath(id, kind));
    try {
      await this.start(instance);
    } catch (e) {
      await instance.close().catch(() => {});
      throw e;
    }
    this.loaded.set(id, instance);
    return instance;
  }

  /**
   * Power-on after load: a TPM saved after Shutdown(STATE) resumes (PCRs as they were,
   * restartCount + 1); one saved without (a crash, a power loss) gets a TPM Reset.
   */
  private async start(instance: ManagedTpm): Promise<void> {
    if (instance.tpm.started) return;
    const client = instance.client();
    try {
      await client.call(Startup, {}, { startupType: TPM_SU.STATE });
    } catch (e) {
      if (!(e instanceof TpmError && e.is(TPM_RC.VALUE))) throw e;
      await client.call(Startup, {}, { startupType: TPM_SU.CLEAR });
    }
    await instance.flush();
  }

  /**
   * Suspend: clients served this instance are disconnected, the TPM is shut down orderly
   * (Shutdown(STATE): PCRs kept for Startup(STATE)), saved, and dropped from memory. A later
   * get() or a new connection to its port resumes it.
   */
  suspend(id: string): Promise<void> {
    validateId(id);
    return this.exclusive(id, async () => {
      if (!this.known.has(id)) throw new TpmManagerError(`no TPM ${id}`);
      const instance = this.loaded.get(id);
      if (!instance) return;
      this.servers.get(id)?.closeConnections();
      if (instance.tpm.started) await instance.client().call(Shutdown, {}, { shutdownType: TPM_SU.STATE });
      this.loaded.delete(id);
      await instance.close();
    });
  }

  /**
   * Restart a vTPM: its VM rebooted. Clients served this instance are disconnected (their
   * handles die with the reset), it is loaded if suspended, and power-cycled keeping its seeds
   * (ManagedTpm.powerCycle: Shutdown(CLEAR), _TPM_Init, Startup(CLEAR); PCRs at their initial
   * values, NV and persistent objects kept, the static event log emptied), saved before this
   * returns. The host TPM's reboots are the platform's, not the service's: refused.
   */
  restart(id: string): Promise<ManagedTpm> {
    validateId(id);
    return this.exclusive(id, async () => {
      const role = this.known.get(id);
      if (!role) throw new TpmManagerError(`no TPM ${id}`);
      if (role !== 'vtpm') throw new TpmManagerError(`TPM ${id} is the host TPM: its reboots are the platform's, not the service's`);
      const instance = await this.load(id);
      this.servers.get(id)?.closeConnections();
      await instance.powerCycle();
      return instance;
    });
  }

  /**
   * Destroy: stop serving it, drop it, and erase its state and counter files. Its seeds, keys
   * and NV are gone with them (the state file is the only copy, encrypted under the platform key).
   */
  destroy(id: string): Promise<void> {
    validateId(id);
    return this.exclusive(id, async () => {
      if (!this.known.has(id)) throw new TpmManagerError(`no TPM ${id}`);
      const server = this.servers.get(id);
      this.servers.delete(id);
      await server?.close();
      const instance = this.loaded.get(id);
      this.loaded.delete(id);
      await instance?.close().catch(() => {});
      this.known.delete(id);
      await this.erase(id, { scan: true });
    });
  }

  /**
   * Serve the instance over mssim: command port `port`, platform port `port + 1` (0 picks free
   * ones). Each connection resolves the instance anew, so a suspended one is loaded on demand.
   * The role's rules apply: a vTPM answers TPM_RC_LOCALITY above locality 3 and refuses the DRTM signals.
   */
  async serve(id: string, opts: { port?: number; host?: string } = {}): Promise<MssimServer> {
    validateId(id);
    const role = this.known.get(id);
    if (!role) throw new TpmManagerError(`no TPM ${id}`);
    if (this.servers.has(id)) throw new TpmManagerError(`TPM ${id} is already served on port ${this.servers.get(id)!.commandPort}`);
    const rules = ROLE_RULES[role];
    const target = async (): Promise<MssimTarget> => {
      const instance = await this.get(id);
      return { tpm: instance.tpm, durable: () => instance.flush(), ...rules };
    };
    const server = new MssimServer({ port: opts.port ?? 0, host: opts.host, target });
    this.servers.set(id, server);
    try {
      await server.listen();
    } catch (e) {
      this.servers.delete(id);
      throw e;
    }
    return server;
  }

  /** Stop serving the instance (it stays loaded or suspended as it was). */
  async unserve(id: string): Promise<void> {
    const server = this.servers.get(id);
    this.servers.delete(id);
    await server?.close();
  }

  /** Stop every server and suspend every loaded instance (an orderly shutdown of the host). */
  async close(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((id) => this.unserve(id)));
    // A few at a time, so their state files' writes overlap.
    const ids = [...this.loaded.keys()];
    await Promise.all(
      Array.from({ length: Math.min(8, ids.length) }, async () => {
        for (let id = ids.pop(); id !== undefined; id = ids.pop()) await this.suspend(id);
      }),
    );
  }

  private statePath(id: string, role: TpmRole): string {
    return path.join(this.opts.dir, `${id}.${role}.tpmstate`);
  }

  private logPath(id: string, kind: 'static' | 'drtm'): string {
    return path.join(this.opts.dir, `${id}.${kind}.cel.json`);
  }

  private counterPath(id: string): string {
    return path.join(this.opts.counterDir, `${id}.counter`);
  }

  private open(id: string, role: TpmRole): Promise<PersistentTpm> {
    const report = this.opts.onInternalError;
    return openPersistentTpm({
      path: this.statePath(id, role),
      platformKey: this.opts.platformKey,
      counterPath: this.counterPath(id),
      tpmOptions: report ? { onInternalError: (e) => report(id, e) } : {},
    });
  }

  /**
   * Overwrite and remove the files of `id`: its state files and counter, and with `scan` every
   * file named "<id>.…" or ".<id>.…" (the state writer's temporaries a crash may leave) — a
   * directory listing, which create() spares itself since temporaries never pass for state.
   */
  private async erase(id: string, opts: { scan: boolean }): Promise<void> {
    const files = [this.statePath(id, 'host'), this.statePath(id, 'vtpm'), this.counterPath(id), this.logPath(id, 'static'), this.logPath(id, 'drtm')];
    if (opts.scan) {
      for (const dir of new Set([this.opts.dir, this.opts.counterDir])) {
        for (const name of await readdir(dir)) if (name.startsWith(`${id}.`) || name.startsWith(`.${id}.`)) files.push(path.join(dir, name));
      }
    }
    let erased = false;
    for (const file of new Set(files)) erased = (await shred(file)) || erased;
    if (erased) for (const dir of new Set([this.opts.dir, this.opts.counterDir])) await syncDirectory(dir);
  }

  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    const mine = before.then(() => done);
    this.locks.set(id, mine);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(id) === mine) this.locks.delete(id);
    }
  }
}

/** Overwrite a file with random bytes, sync, and unlink it; false when there was no such file. */
async function shred(file: string): Promise<boolean> {
  let f;
  try {
    f = await open(file, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  try {
    const { size } = await f.stat();
    if (size > 0) await f.write(randomBytes(size), 0, size, 0);
    await f.sync();
  } finally {
    await f.close();
  }
  await unlink(file);
  return true;
}

async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
