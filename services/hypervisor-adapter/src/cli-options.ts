// The command line of the adapter. Four commands:
//
//   [serve] (default)  serve volumes over NBD, with local keys or through the service's data plane
//     --listen HOST:PORT | unix:PATH           default 127.0.0.1:10809 (port 0: any free port); HOST
//                                              only a loopback address, PATH a Unix socket only this
//                                              user may connect to (what connects reads the plaintext)
//     --log-level debug|info|warn|error        default info
//     --volume name=N,dir=D[,…]                once per export (fields below)
//   with local keys (no --service):
//     --volume name=N,dir=D[,size=64M][,sector=4096][,key=FILE][,readonly][,pending=64M][,journal=256M]
//   through the data plane (--service given): the host attests, each --vm starts, each volume's
//   key stays in the service and a block session serves it
//     --service URL                            the data plane, e.g. http://127.0.0.1:7411
//     --adapter-key FILE                       the adapter's private key (PEM; made if missing)
//     [--service-key FILE]                     the service's signing key (JWK, as GET /v1/service-key
//                                              gives it); default: trusted on first use and kept in
//                                              FILE.service-key.json beside the adapter key — over
//                                              https://, or over plain HTTP only with
//     [--trust-service-key-on-first-use]       (the operator's word that no one stands in between)
//     [--service-root FILE                     or proven by its evidence: the service TPM's
//      --service-measurements FILE]            manufacturer root (PEM), and the service's approved
//                                              code and configuration digests (JSON: codeDigest,
//                                              configurationDigest, as GET /v1/service/measurements)
//     --host-tpm DIR|mssim://HOST:PORT         the host TPM: the emulated one in DIR, or an external one
//     --host-id ID                             the host, as the cloud-admin registered it
//     [--host-name NAME]                       in evidence bundles (default: this machine's name)
//     [--manufacturer DIR]                     certify an uncertified host TPM with the CA in DIR
//     [--mle FILE]                             the hypervisor image the launch measures (default: the adapter's code)
//     [--connections N]                        block requests in flight per volume (default 8)
//     --vm tenant=T,id=VM,delegation=FILE,(boot-log=FILE | boot-image=FILE,config=FILE[,kernel=FILE])
//     --volume name=N,dir=D,id=VOLUME_ID[,vm=VM][,readonly][,pending=64M][,journal=256M]
//     [--control PATH]                         a Unix socket (0600) on which VMs are started and
//                                              stopped while serving (data-plane/control-socket.ts);
//                                              with it, serving may begin with no --vm
//
//   vm list|start|stop --control PATH          ask a serving adapter, print its answer (JSON)
//       start: --vm … --volume … (fields as for serve; the volumes are the VM's)
//       stop:  --id VM_ID                      its volumes written back, closed, their state recorded
//
//   host-init --host-tpm DIR|mssim://… [--manufacturer DIR] [--mle FILE]
//       certify the host TPM if it is not, and print (JSON) its EK certificate, the manufacturer
//       root and the launch digests the cloud-admin registers and approves
//   attest --service URL --adapter-key FILE [--service-key FILE | …] --host-tpm … --host-id ID [--host-name NAME]
//       attest once and print (JSON) the adapter's principal and label (what a delegation names)
//
// Sizes take K, M, G or T (powers of 1024), with or without "iB".

import os from 'node:os';
import path from 'node:path';
import type { SectorSize } from '@sealkeep/crypto';
import type { LogLevel } from './logger.js';

export class CommandLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandLineError';
  }
}

export interface VolumeOption {
  name: string;
  dir: string;
  /** Only to create the volume, or to check an existing one. */
  size?: number;
  sectorSize?: SectorSize;
  /** Local key file (96 bytes); made if missing. Absent: a throw-away key, for a new volume only. */
  keyFile?: string;
  readOnly: boolean;
  /** Journaled changes held in memory before they are written to the files. */
  pendingLimit?: number;
  /** Journal length that triggers a checkpoint. */
  journalLimit?: number;
  /** The service's volume id (data-plane mode): the key stays in the service. */
  volumeId?: string;
  /** The VM the volume belongs to (data-plane mode; default: the only --vm). */
  vmId?: string;
}

export interface VmOption {
  tenantId: string;
  vmId: string;
  /** Where the cloud-management layer keeps a fresh delegation token naming this adapter as its next actor (read at start and at each session renewal). */
  delegationFile: string;
  /** The VM's measured boot, CEL JSON … */
  bootLogFile?: string;
  /** … or built from the boot volume image and configuration (and kernel) as measured here. */
  bootImage?: string;
  configFile?: string;
  kernelFile?: string;
}

export interface ServiceOption {
  dataUrl: string;
  adapterKeyFile: string;
  /** The service's signing key given out of band; without it (or evidence), trusted on first use (data-plane/service-key.ts). */
  serviceKeyFile?: string;
  /** Or the key proven by its evidence: the service TPM's manufacturer root, and the service's approved digests. */
  serviceEvidence?: { rootFile: string; measurementsFile: string };
  /** Pin the first key presented even over plain HTTP (--trust-service-key-on-first-use). */
  trustOnFirstUse?: boolean;
  hostTpm: string;
  hostId: string;
  hostName: string;
  manufacturerDir?: string;
  mleFile?: string;
  connections: number;
}

/** Where the NBD server listens: TCP on a loopback address, or a Unix socket. */
export type ListenOption = { host: string; port: number } | { socketPath: string };

export interface CommandLine {
  command: 'serve' | 'host-init' | 'attest' | 'vm';
  listen: ListenOption;
  volumes: VolumeOption[];
  logLevel: LogLevel;
  /** Data-plane mode (serve), or what attest needs. */
  service?: ServiceOption;
  vms: VmOption[];
  /** host-init: the host TPM, and where its manufacturer CA is. */
  hostTpm?: string;
  manufacturerDir?: string;
  mleFile?: string;
  /** serve: the control socket's path; vm: the serving adapter's. */
  control?: string;
  /** vm: what to ask, and of which VM (stop). */
  vmAction?: 'list' | 'start' | 'stop';
  vmId?: string;
  /** vm start: the --vm and --volume fields as given, their paths made absolute (the adapter's working directory is not the caller's). */
  vmFields?: { vm: string; volumes: string[] };
}

export const USAGE = `usage: sealkeep-hypervisor-adapter [--listen HOST:PORT|unix:PATH] [--log-level LEVEL]
       --volume name=NAME,dir=DIR[,size=SIZE][,sector=512|4096][,key=FILE][,readonly][,pending=SIZE][,journal=SIZE] ...
   or: sealkeep-hypervisor-adapter [--listen HOST:PORT|unix:PATH] [--log-level LEVEL]
       --service URL --adapter-key FILE [--service-key FILE | --service-root FILE --service-measurements FILE | --trust-service-key-on-first-use]
       --host-tpm DIR|mssim://HOST:PORT --host-id ID [--host-name NAME] [--manufacturer DIR] [--mle FILE] [--connections N]
       --vm tenant=ID,id=VM_ID,delegation=FILE,(boot-log=FILE | boot-image=FILE,config=FILE[,kernel=FILE]) ...
       --volume name=NAME,dir=DIR,id=VOLUME_ID[,vm=VM_ID][,readonly][,pending=SIZE][,journal=SIZE] ...
   or: sealkeep-hypervisor-adapter host-init --host-tpm DIR|mssim://HOST:PORT [--manufacturer DIR] [--mle FILE]
   or: sealkeep-hypervisor-adapter attest --service URL --adapter-key FILE [--service-key FILE | --service-root FILE --service-measurements FILE | --trust-service-key-on-first-use]
       --host-tpm … --host-id ID [--host-name NAME]
   or: sealkeep-hypervisor-adapter vm list --control PATH
   or: sealkeep-hypervisor-adapter vm start --control PATH --vm … --volume … ...
   or: sealkeep-hypervisor-adapter vm stop --control PATH --id VM_ID`;

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseSize(text: string): number {
  const match = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!match) throw new CommandLineError(`not a size: ${JSON.stringify(text)} (e.g. 64M, 1G, 1048576)`);
  const bytes = Number(match[1]) * UNITS[match[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(bytes)) throw new CommandLineError(`size too large: ${text}`);
  return bytes;
}

/** key=value fields separated by commas; a bare key is a flag (value ''). */
function fieldsOf(option: string, text: string, known: readonly string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const [key, ...rest] = part.split('=');
    if (!key) continue;
    if (fields.has(key)) throw new CommandLineError(`${option}: ${key} given twice`);
    fields.set(key, rest.join('='));
  }
  for (const key of fields.keys()) if (!known.includes(key)) throw new CommandLineError(`${option}: unknown field ${key}`);
  return fields;
}

function uuidField(option: string, fields: Map<string, string>, key: string): string | undefined {
  const value = fields.get(key);
  if (value === undefined) return undefined;
  if (!UUID.test(value)) throw new CommandLineError(`${option}: ${key} must be a UUID, not ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

export function parseVolume(text: string): VolumeOption {
  const fields = fieldsOf('--volume', text, ['name', 'dir', 'size', 'sector', 'key', 'readonly', 'pending', 'journal', 'id', 'vm']);
  const name = fields.get('name');
  const dir = fields.get('dir');
  if (!name || !dir) throw new CommandLineError('--volume needs name=… and dir=…');
  const volume: VolumeOption = { name, dir, readOnly: fields.has('readonly') };
  const size = fields.get('size');
  if (size !== undefined) volume.size = parseSize(size);
  const sector = fields.get('sector');
  if (sector !== undefined) {
    if (sector !== '512' && sector !== '4096') throw new CommandLineError(`--volume: sector must be 512 or 4096, not ${sector}`);
    volume.sectorSize = Number(sector) as SectorSize;
  }
  const key = fields.get('key');
  if (key) volume.keyFile = key;
  const pending = fields.get('pending');
  if (pending !== undefined) volume.pendingLimit = parseSize(pending);
  const journal = fields.get('journal');
  if (journal !== undefined) volume.journalLimit = parseSize(journal);
  const volumeId = uuidField('--volume', fields, 'id');
  if (volumeId) volume.volumeId = volumeId;
  const vmId = uuidField('--volume', fields, 'vm');
  if (vmId) volume.vmId = vmId;
  return volume;
}

export function parseVm(text: string): VmOption {
  const fields = fieldsOf('--vm', text, ['tenant', 'id', 'delegation', 'boot-log', 'boot-image', 'config', 'kernel']);
  const tenantId = uuidField('--vm', fields, 'tenant');
  const vmId = uuidField('--vm', fields, 'id');
  const delegationFile = fields.get('delegation');
  if (!tenantId || !vmId || !delegationFile) throw new CommandLineError('--vm needs tenant=…, id=… and delegation=FILE');
  const vm: VmOption = { tenantId, vmId, delegationFile };
  const bootLog = fields.get('boot-log');
  const bootImage = fields.get('boot-image');
  const config = fields.get('config');
  const kernel = fields.get('kernel');
  if (bootLog && (bootImage || config || kernel)) throw new CommandLineError('--vm: boot-log=FILE, or boot-image=FILE and config=FILE, not both');
  if (bootLog) vm.bootLogFile = bootLog;
  else if (bootImage && config) {
    vm.bootImage = bootImage;
    vm.configFile = config;
    if (kernel) vm.kernelFile = kernel;
  } else throw new CommandLineError('--vm needs its measured boot: boot-log=FILE, or boot-image=FILE and config=FILE');
  return vm;
}

/** Loopback only: an NBD client is not authenticated, and what it reads is the volume's plaintext. */
const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost)$/;

function parseListen(text: string): ListenOption {
  if (text.startsWith('unix:')) {
    const socketPath = text.slice('unix:'.length);
    if (!socketPath) throw new CommandLineError('--listen unix:PATH needs the socket\'s path');
    return { socketPath: path.resolve(socketPath) };
  }
  const at = text.lastIndexOf(':');
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new CommandLineError(`--listen wants HOST:PORT or unix:PATH, not ${text}`);
  if (!LOOPBACK.test(host)) {
    throw new CommandLineError(`--listen ${text}: NBD clients are not authenticated and read the volumes' plaintext, so the adapter listens on a loopback address or a Unix socket (unix:PATH), never ${host}`);
  }
  return { host, port };
}

function parseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CommandLineError(`--service wants the data plane's URL (http://HOST:PORT), not ${text}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CommandLineError(`--service: http or https, not ${url.protocol}`);
  return url.origin;
}

export function parseCommandLine(args: readonly string[]): CommandLine {
  if (args[0] === 'vm') return parseVmCommand(args.slice(1));
  const command = args[0] === 'host-init' || args[0] === 'attest' || args[0] === 'serve' ? args[0] : null;
  const rest = command ? args.slice(1) : args;
  const line: CommandLine = { command: command ?? 'serve', listen: { host: '127.0.0.1', port: 10809 }, volumes: [], logLevel: 'info', vms: [] };
  const given = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new CommandLineError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--listen') line.listen = parseListen(value());
    else if (flag === '--volume') line.volumes.push(parseVolume(value()));
    else if (flag === '--vm') line.vms.push(parseVm(value()));
    else if (flag === '--trust-service-key-on-first-use') given.set(flag, '');
    else if (flag === '--log-level') {
      const level = value();
      if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new CommandLineError(`--log-level: debug, info, warn or error, not ${level}`);
      line.logLevel = level as LogLevel;
    } else if (['--service', '--adapter-key', '--service-key', '--service-root', '--service-measurements', '--host-tpm', '--host-id', '--host-name', '--manufacturer', '--mle', '--connections', '--control'].includes(flag)) {
      if (given.has(flag)) throw new CommandLineError(`${flag} given twice`);
      given.set(flag, value());
    } else throw new CommandLineError(`unknown argument ${flag}\n${USAGE}`);
  }
  const hostTpm = given.get('--host-tpm');
  if (given.has('--manufacturer')) line.manufacturerDir = given.get('--manufacturer')!;
  if (given.has('--mle')) line.mleFile = given.get('--mle')!;

  if (line.command === 'host-init') {
    if (!hostTpm) throw new CommandLineError(`host-init needs --host-tpm\n${USAGE}`);
    line.hostTpm = hostTpm;
    return line;
  }
  if (given.has('--service') || line.command === 'attest') {
    const missing = ['--service', '--adapter-key', '--host-tpm', '--host-id'].filter((f) => !given.has(f));
    if (missing.length) throw new CommandLineError(`${line.command === 'attest' ? 'attest' : 'serving through the data plane'} needs ${missing.join(', ')}\n${USAGE}`);
    const hostId = given.get('--host-id')!;
    if (!UUID.test(hostId)) throw new CommandLineError(`--host-id must be a UUID, not ${hostId}`);
    if (given.has('--service-root') !== given.has('--service-measurements')) throw new CommandLineError('--service-root and --service-measurements go together: the root the evidence chains to, and the launch it must show');
    if (given.has('--service-root') && given.has('--service-key')) throw new CommandLineError('the service key is given (--service-key) or proven by its evidence (--service-root), not both');
    if (given.has('--trust-service-key-on-first-use') && (given.has('--service-key') || given.has('--service-root'))) {
      throw new CommandLineError('--trust-service-key-on-first-use: the service key is given (--service-key) or proven (--service-root) already');
    }
    const connections = Number(given.get('--connections') ?? 8);
    if (!Number.isInteger(connections) || connections < 1 || connections > 64) throw new CommandLineError('--connections: 1 to 64');
    line.service = {
      dataUrl: parseUrl(given.get('--service')!),
      adapterKeyFile: given.get('--adapter-key')!,
      ...(given.has('--service-key') ? { serviceKeyFile: given.get('--service-key')! } : {}),
      ...(given.has('--service-root') ? { serviceEvidence: { rootFile: given.get('--service-root')!, measurementsFile: given.get('--service-measurements')! } } : {}),
      ...(given.has('--trust-service-key-on-first-use') ? { trustOnFirstUse: true } : {}),
      hostTpm: hostTpm!,
      hostId: hostId.toLowerCase(),
      hostName: given.get('--host-name') ?? os.hostname(),
      connections,
      ...(line.manufacturerDir ? { manufacturerDir: line.manufacturerDir } : {}),
      ...(line.mleFile ? { mleFile: line.mleFile } : {}),
    };
    if (line.command === 'attest') {
      if (given.has('--control')) throw new CommandLineError('--control: only when serving');
      return line;
    }
    if (given.has('--control')) line.control = path.resolve(given.get('--control')!);
  } else {
    const remoteOnly = [...given.keys()];
    if (remoteOnly.length || line.vms.length) throw new CommandLineError(`${[...remoteOnly, ...(line.vms.length ? ['--vm'] : [])].join(', ')}: only with --service`);
  }

  if (line.volumes.length === 0 && !(line.control && line.vms.length === 0)) throw new CommandLineError(`at least one --volume is needed\n${USAGE}`);
  const names = new Set<string>();
  const dirs = new Set<string>();
  for (const { name, dir } of line.volumes) {
    if (names.has(name)) throw new CommandLineError(`two volumes named ${name}`);
    if (dirs.has(path.resolve(dir))) throw new CommandLineError(`two volumes in ${dir}: each volume needs its own directory`);
    names.add(name);
    dirs.add(path.resolve(dir));
  }
  if (line.service) checkRemoteVolumes(line);
  else for (const v of line.volumes) if (v.volumeId || v.vmId) throw new CommandLineError(`--volume ${v.name}: id= and vm= only with --service`);
  return line;
}

/** Data-plane volumes: each names its service volume id and belongs to one --vm; sizes and keys come from the service. */
function checkRemoteVolumes(line: CommandLine): void {
  if (line.vms.length === 0 && !line.control) throw new CommandLineError('serving through the data plane needs at least one --vm (or --control, to start VMs later)');
  const vmIds = new Set<string>();
  for (const vm of line.vms) {
    if (vmIds.has(vm.vmId)) throw new CommandLineError(`--vm ${vm.vmId} given twice`);
    vmIds.add(vm.vmId);
  }
  for (const v of line.volumes) {
    checkDataPlaneVolume(v);
    if (!v.vmId) {
      if (line.vms.length > 1) throw new CommandLineError(`--volume ${v.name}: vm=VM_ID is needed with several --vm`);
      v.vmId = line.vms[0]!.vmId;
    } else if (!vmIds.has(v.vmId)) throw new CommandLineError(`--volume ${v.name}: no --vm with id ${v.vmId}`);
  }
  for (const vm of line.vms) if (!line.volumes.some((v) => v.vmId === vm.vmId)) throw new CommandLineError(`--vm ${vm.vmId}: no --volume names it (vm=${vm.vmId})`);
}

/** A volume served through the data plane names its service volume id; its key, size and sector size come from the service. */
export function checkDataPlaneVolume(v: VolumeOption): void {
  if (!v.volumeId) throw new CommandLineError(`--volume ${v.name}: id=VOLUME_ID is needed with --service`);
  if (v.keyFile || v.size !== undefined || v.sectorSize !== undefined) throw new CommandLineError(`--volume ${v.name}: key, size and sector come from the service with --service`);
}

/** `vm list|start|stop --control PATH …`: a request to a serving adapter's control socket. */
function parseVmCommand(args: readonly string[]): CommandLine {
  const action = args[0];
  if (action !== 'list' && action !== 'start' && action !== 'stop') throw new CommandLineError(`vm: list, start or stop\n${USAGE}`);
  const line: CommandLine = { command: 'vm', vmAction: action, listen: { host: '127.0.0.1', port: 10809 }, volumes: [], logLevel: 'info', vms: [] };
  const vmFields = { vm: '', volumes: [] as string[] };
  for (let i = 1; i < args.length; i++) {
    const flag = args[i]!;
    const value = args[++i];
    if (value === undefined) throw new CommandLineError(`${flag} needs a value`);
    if (flag === '--control' && !line.control) line.control = path.resolve(value);
    else if (flag === '--vm' && action === 'start' && line.vms.length === 0) {
      line.vms.push(parseVm(value));
      vmFields.vm = absolutePaths(value, ['delegation', 'boot-log', 'boot-image', 'config', 'kernel']);
    } else if (flag === '--volume' && action === 'start') {
      line.volumes.push(parseVolume(value));
      vmFields.volumes.push(absolutePaths(value, ['dir']));
    } else if (flag === '--id' && action === 'stop' && !line.vmId) {
      if (!UUID.test(value)) throw new CommandLineError(`--id must be a UUID, not ${value}`);
      line.vmId = value.toLowerCase();
    } else throw new CommandLineError(`vm ${action}: unexpected ${flag}\n${USAGE}`);
  }
  if (!line.control) throw new CommandLineError(`vm ${action} needs --control PATH (the serving adapter's control socket)`);
  if (action === 'start' && (line.vms.length === 0 || line.volumes.length === 0)) throw new CommandLineError('vm start needs one --vm and its --volume (one or more)');
  if (action === 'stop' && !line.vmId) throw new CommandLineError('vm stop needs --id VM_ID');
  if (action === 'start') line.vmFields = vmFields;
  return line;
}

/** The fields with the values of `keys` resolved against this process's working directory. */
function absolutePaths(text: string, keys: readonly string[]): string {
  return text
    .split(',')
    .map((part) => {
      const [key, ...rest] = part.split('=');
      return keys.includes(key!) && rest.length > 0 ? `${key}=${path.resolve(rest.join('='))}` : part;
    })
    .join(',');
}

/** Paths in a VM's fields that are not absolute (a control request must not depend on the adapter's working directory). */
export function relativePaths(vm: VmOption, volumes: readonly VolumeOption[]): string[] {
  const paths = [vm.delegationFile, vm.bootLogFile, vm.bootImage, vm.configFile, vm.kernelFile, ...volumes.map((v) => v.dir)];
  return paths.filter((p): p is string => p !== undefined && !path.isAbsolute(p));
}
