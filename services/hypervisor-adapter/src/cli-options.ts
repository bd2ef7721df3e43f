// The command line of the adapter's NBD server:
//   --listen HOST:PORT                        default 127.0.0.1:10809 (port 0: any free port)
//   --volume name=N,dir=D[,size=64M][,sector=4096][,key=FILE][,readonly][,pending=64M][,journal=256M]
//                                             once per export; pending and journal: the volume's limits
//   --log-level debug|info|warn|error         default info
// Sizes take K, M, G or T (powers of 1024), with or without "iB".

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
}

export interface CommandLine {
  host: string;
  port: number;
  volumes: VolumeOption[];
  logLevel: LogLevel;
}

export const USAGE = `usage: sealkeep-hypervisor-adapter [--listen HOST:PORT] [--log-level LEVEL]
       --volume name=NAME,dir=DIR[,size=SIZE][,sector=512|4096][,key=FILE][,readonly][,pending=SIZE][,journal=SIZE] ...`;

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function parseSize(text: string): number {
  const match = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!match) throw new CommandLineError(`not a size: ${JSON.stringify(text)} (e.g. 64M, 1G, 1048576)`);
  const bytes = Number(match[1]) * UNITS[match[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(bytes)) throw new CommandLineError(`size too large: ${text}`);
  return bytes;
}

export function parseVolume(text: string): VolumeOption {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const [key, ...rest] = part.split('=');
    if (!key) continue;
    if (fields.has(key)) throw new CommandLineError(`--volume: ${key} given twice`);
    fields.set(key, rest.join('='));
  }
  const known = new Set(['name', 'dir', 'size', 'sector', 'key', 'readonly', 'pending', 'journal']);
  for (const key of fields.keys()) if (!known.has(key)) throw new CommandLineError(`--volume: unknown field ${key}`);
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
  return volume;
}

function parseListen(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new CommandLineError(`--listen wants HOST:PORT, not ${text}`);
  return { host, port };
}

export function parseCommandLine(args: readonly string[]): CommandLine {
  const line: CommandLine = { host: '127.0.0.1', port: 10809, volumes: [], logLevel: 'info' };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new CommandLineError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--listen') Object.assign(line, parseListen(value()));
    else if (flag === '--volume') line.volumes.push(parseVolume(value()));
    else if (flag === '--log-level') {
      const level = value();
      if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new CommandLineError(`--log-level: debug, info, warn or error, not ${level}`);
      line.logLevel = level as LogLevel;
    } else throw new CommandLineError(`unknown argument ${flag}\n${USAGE}`);
  }
  if (line.volumes.length === 0) throw new CommandLineError(`at least one --volume is needed\n${USAGE}`);
  const names = new Set<string>();
  const dirs = new Set<string>();
  for (const { name, dir } of line.volumes) {
    if (names.has(name)) throw new CommandLineError(`two volumes named ${name}`);
    if (dirs.has(path.resolve(dir))) throw new CommandLineError(`two volumes in ${dir}: each volume needs its own directory`);
    names.add(name);
    dirs.add(path.resolve(dir));
  }
  return line;
}
