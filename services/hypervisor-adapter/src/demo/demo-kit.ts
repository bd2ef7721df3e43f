// What the walkthrough (walkthrough.ts) is made of: numbered steps with timings, indented
// output, child processes that are always cleaned up, the `sealkeep` command line run in this
// process (the same main() as `npx sealkeep`, its output captured and shown indented), and
// waiting for a JSON log line of a child.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { main as sealkeepMain } from '../../../../packages/sdk/src/cli/main.js';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = paint('1');
export const dim = paint('2');
export const green = paint('32');
export const red = paint('31');
export const cyan = paint('36');

export const say = (text = '') => void process.stdout.write(`${text}\n`);
/** Lines under a step, indented. */
export const show = (text: string) => {
  for (const line of text.replace(/\n+$/, '').split('\n')) say(`        ${line}`);
};
export const command = (text: string) => show(cyan(`$ ${text}`));

let workspace = '';
/** Paths under the walkthrough's workspace are shown relative to it (the walkthrough runs there). */
export function setWorkspace(dir: string): void {
  workspace = dir.endsWith('/') ? dir : `${dir}/`;
}
export const pretty = (arg: string) => (workspace && arg.startsWith(workspace) ? arg.slice(workspace.length) : arg);
const shell = (args: string[]) => args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(pretty(a)) : pretty(a))).join(' ');

export class StepFailed extends Error {}

export class Steps {
  #n = 0;
  constructor(readonly total: number) {}

  async run<T>(title: string, work: () => Promise<T>): Promise<T> {
    const n = ++this.#n;
    say(`\n${bold(`[${String(n).padStart(2)}/${this.total}] ${title}`)}`);
    const started = Date.now();
    try {
      const result = await work();
      show(green(`✓ ${((Date.now() - started) / 1000).toFixed(1)} s`));
      return result;
    } catch (error) {
      show(red(`✗ step ${n} failed: ${(error as Error).message}`));
      throw new StepFailed(`step ${n} (${title}) failed`, { cause: error });
    }
  }
}

/** A port free right now on 127.0.0.1 (the service's planes are given fixed ports). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * `sealkeep ARGS` in this process: its output is captured and shown indented (unless quiet), and
 * the JSON it prints with --json parsed. A non-zero exit fails the step.
 */
export async function sealkeep(args: string[], opts: { quiet?: boolean; shown?: string } = {}): Promise<unknown> {
  command(`sealkeep ${opts.shown ?? shell(args)}`);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  const collect = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  const log = console.log;
  const error = console.error;
  process.stdout.write = collect;
  process.stderr.write = collect;
  console.log = (...a: unknown[]) => void collect(a.map(String).join(' ') + '\n');
  console.error = console.log;
  let code: number;
  try {
    code = await sealkeepMain(args);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
    console.log = log;
    console.error = error;
  }
  if (!opts.quiet || code !== 0) show(dim(out));
  if (code !== 0) throw new Error(`sealkeep ${args[0]} ${args[1] ?? ''} exited ${code}`);
  if (!args.includes('--json')) return out;
  return JSON.parse(out) as unknown;
}

export interface Child {
  name: string;
  process: ChildProcess;
  logFile: string;
  /** Every line the child wrote to stderr and stdout so far. */
  lines(): string[];
  /** Resolves with the first JSON log line matching, or rejects when the child exits or time runs out. */
  waitForLog(test: (entry: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the child exits of its own accord. */
  exited(): Promise<number | null>;
  stop(): Promise<number | null>;
}

const children = new Set<Child>();

/** Stops every child still running (SIGTERM, then SIGKILL after 10 s). */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop()));
}

/** Last resort when the walkthrough itself is killed: no child outlives it. */
export function killAllNow(): void {
  for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
}

/** Starts `node [--import tsx] SCRIPT ARGS` (the TypeScript sources, as `npm start` does) with its output in logFile. */
export function startNode(name: string, script: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Child {
  const proc = spawn(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', script, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile);
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    log.write(chunk);
    for (const w of waiters) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  void exited.then(() => {
    log.end();
    for (const w of waiters) w();
  });
  const child: Child = {
    name,
    process: proc,
    logFile,
    lines: () => text.split('\n').filter(Boolean),
    waitForLog(test, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const line of child.lines()) {
            if (!line.startsWith('{')) continue;
            try {
              const entry = JSON.parse(line) as Record<string, unknown>;
              if (test(entry)) return finish(() => resolve(entry));
            } catch {
              // not a log line
            }
          }
          if (proc.exitCode !== null || proc.signalCode !== null) finish(() => reject(new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}):\n${child.lines().slice(-8).join('\n')}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`${name}: nothing expected in its log after ${timeoutMs / 1000} s:\n${child.lines().slice(-8).join('\n')}`))), timeoutMs);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async exited() {
      const code = await exited;
      children.delete(child);
      return code;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      children.delete(child);
      return proc.exitCode;
    },
  };
  children.add(child);
  return child;
}

/** Runs a tool to completion, its output returned (and the step failed on a non-zero exit unless allowed). */
export function tool(name: string, args: string[], opts: { allowFailure?: boolean; quiet?: boolean } = {}): { code: number; out: string } {
  if (!opts.quiet) command(`${name} ${shell(args)}`);
  const r = spawnSync(name, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const code = r.status ?? 1;
  if (code !== 0 && !opts.allowFailure) throw new Error(`${name} exited ${code}: ${out.trim().split('\n').slice(-3).join(' / ')}`);
  return { code, out };
}

export const have = (name: string) => spawnSync('which', [name]).status === 0;

/** The JSON log lines of a file that match. */
export function logEntries(file: string, test: (e: Record<string, unknown>) => boolean): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter(test);
}

export const mbPerSecond = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);
