// sealkeep scan — compliance scans, as a reviewer runs them (compliance plane):
//   sealkeep scan start [--scope hosts,vms,keys,configuration,audit] [--wait] [--html FILE]
//       asks for a scan and prints its id; with --wait follows it to the end — a progress bar on
//       stderr, redrawn in place on a terminal, a line per step otherwise — then prints the summary
//   sealkeep scan status SCAN_ID        where a scan is (and its summary once done)
//   sealkeep scan report SCAN_ID [--html FILE]   the findings; --html writes the report page
//   sealkeep scan list                  recent scans
// A finished scan with a high finding exits 1; a scan that failed exits 3. --json prints the
// service's answers (the report, once done) instead of text.

import { writeFileSync } from 'node:fs';
import { signedRequest, signedTextRequest, type Signer } from '../client.js';
import type { Profile } from '../profile.js';

export const SCAN_USAGE = `  sealkeep scan start [--scope hosts,vms,keys,configuration,audit] [--wait] [--html FILE]
  sealkeep scan status SCAN_ID
  sealkeep scan report SCAN_ID [--html FILE]
  sealkeep scan list
      (a finished scan with a high finding exits 1, a failed scan 3)`;

/** `--scope` is shared with `token` (one string: here, scopes separated by commas). */
export const SCAN_OPTIONS = {
  wait: { type: 'boolean' },
  html: { type: 'string' },
} as const;

export interface ScanArgs {
  scope?: string | undefined;
  wait?: boolean | undefined;
  html?: string | undefined;
  json?: boolean | undefined;
}

const SCOPES = ['hosts', 'vms', 'keys', 'configuration', 'audit'];
const SEVERITIES = ['high', 'medium', 'low', 'info'] as const;
type Severity = (typeof SEVERITIES)[number];

interface Finding {
  id: string;
  severity: Severity;
  subject: string;
  message: string;
  expected?: string;
  found?: string;
}

export interface ScanReport {
  scanId: string;
  startedAt: string;
  finishedAt: string;
  summary: { passed: boolean; counts: Record<Severity, number> };
  sections: Array<{ scope: string; title: string; passed: boolean; checked: Record<string, number>; counts: Record<Severity, number>; findings: Finding[]; omitted: number }>;
}

export interface ScanState {
  scanId: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  percent: number;
  step: string;
  failure: string | null;
  requestedAt: string;
  report?: ScanReport;
  summary?: ScanReport['summary'];
}

/** The scan finished with a high finding; the summary is already printed (exit 1). */
export class ScanNotPassed extends Error {}
/** The scan itself failed (exit 3). */
export class ScanFailed extends Error {}

/** Where progress goes, and how long to wait between polls (tests shorten it). */
export interface ScanIo {
  progress: { isTTY?: boolean; write(text: string): unknown };
  pollMs: number;
}

type Out = (value: unknown, text: string) => void;

/** `[##########..........]  50%  VMs and volumes: 150 of 300` */
export function progressBar(s: Pick<ScanState, 'status' | 'percent' | 'step'>, width = 30): string {
  const percent = s.status === 'done' ? 100 : s.percent;
  const filled = Math.round((percent / 100) * width);
  const what = s.status === 'running' ? s.step : s.status;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}%  ${what}`;
}

const counts = (c: Record<Severity, number>) => SEVERITIES.map((s) => `${c[s]} ${s}`).join(', ');

/** The report for people: the verdict, a line per scope, then every finding but the informational. */
export function describeReport(r: ScanReport): string {
  const seconds = ((new Date(r.finishedAt).getTime() - new Date(r.startedAt).getTime()) / 1000).toFixed(1);
  const lines = [`scan ${r.scanId}: ${r.summary.passed ? 'PASSED' : 'FAILED'} (${counts(r.summary.counts)}) in ${seconds} s`];
  for (const s of r.sections) {
    const checked = Object.entries(s.checked).map(([what, n]) => `${n} ${what}`).join(', ');
    lines.push(`  ${s.title.padEnd(22)} ${(s.passed ? 'pass' : 'FAIL').padEnd(5)} ${checked.padEnd(36)} ${counts(s.counts)}`);
  }
  const notable = r.sections.flatMap((s) => s.findings).filter((f) => f.severity !== 'info');
  for (const f of notable) {
    const diff = f.expected !== undefined || f.found !== undefined ? ` (expected ${f.expected ?? '-'}, found ${f.found ?? '-'})` : '';
    lines.push(`${f.severity.toUpperCase().padEnd(7)} ${f.id}  ${f.subject}\n        ${f.message}${diff}`);
  }
  const quiet = r.summary.counts.info + r.sections.reduce((n, s) => n + s.omitted, 0);
  if (quiet > 0) lines.push(`(${quiet} informational or unlisted finding${quiet === 1 ? '' : 's'} not shown: sealkeep scan report ${r.scanId} --json, or --html FILE)`);
  return lines.join('\n');
}

function describeState(s: ScanState): string {
  if (s.status === 'done' && s.report) return describeReport(s.report);
  if (s.status === 'failed') return `scan ${s.scanId}: failed at ${s.percent}% — ${s.failure ?? 'no reason given'}`;
  return `scan ${s.scanId}: ${s.status} ${s.percent}%${s.status === 'running' ? ` (${s.step})` : ''}`;
}

/** Poll until the scan is done or failed, drawing its progress. */
async function follow(baseUrl: string, signer: Signer, scanId: string, io: ScanIo): Promise<ScanState> {
  let lastLine = '';
  for (;;) {
    const s = (await signedRequest(baseUrl, signer, 'GET', `/v1/scans/${scanId}`)) as ScanState;
    const line = progressBar(s);
    if (io.progress.isTTY) io.progress.write(`\r${line}\x1b[K`);
    else if (line !== lastLine) io.progress.write(`${line}\n`);
    lastLine = line;
    if (s.status === 'done' || s.status === 'failed') {
      if (io.progress.isTTY) io.progress.write('\n');
      return s;
    }
    await new Promise((resolve) => setTimeout(resolve, io.pollMs));
  }
}

function scopesOf(given: string | undefined): string[] | undefined {
  if (given === undefined) return undefined;
  const scopes = given.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scopes.filter((s) => !SCOPES.includes(s));
  if (unknown.length || scopes.length === 0) throw new Error(`--scope takes ${SCOPES.join(', ')} (comma-separated), not "${given}"`);
  return scopes;
}

/** Print a finished (or failed) scan, write its page if asked, and exit as its verdict says. */
async function conclude(baseUrl: string, signer: Signer, s: ScanState, args: ScanArgs, out: Out): Promise<void> {
  if (s.status === 'failed') {
    out(s, describeState(s));
    throw new ScanFailed(`scan ${s.scanId} failed: ${s.failure ?? 'no reason given'}`);
  }
  const report = s.report!;
  if (args.html) {
    writeFileSync(args.html, await signedTextRequest(baseUrl, signer, `/v1/scans/${s.scanId}/report.html`));
  }
  out(report, describeReport(report) + (args.html ? `\nreport page written to ${args.html}` : ''));
  if (!report.summary.passed) throw new ScanNotPassed();
}

export async function scanCommand(verb: string | undefined, target: string | undefined, p: Profile, signer: Signer, args: ScanArgs, out: Out, io: ScanIo): Promise<void> {
  const url = p.endpoints.compliance;
  if (!url) throw new Error('the profile has no compliance-plane endpoint (scans are a reviewer\'s)');
  if (verb === 'start') {
    const scopes = scopesOf(args.scope);
    const accepted = (await signedRequest(url, signer, 'POST', '/v1/scans', scopes ? { scopes } : {})) as { scanId: string; status: string; statusUrl: string };
    if (!args.wait) {
      if (args.html) throw new Error('--html needs --wait (or: sealkeep scan report SCAN_ID --html FILE once it is done)');
      return out(accepted, `scan ${accepted.scanId} ${accepted.status}; follow it with: sealkeep scan status ${accepted.scanId}`);
    }
    io.progress.write(`scan ${accepted.scanId} ${accepted.status}\n`);
    return conclude(url, signer, await follow(url, signer, accepted.scanId, io), args, out);
  }
  if (verb === 'status' || verb === 'report') {
    if (!target) throw new Error(`name the scan: sealkeep scan ${verb} SCAN_ID`);
    const s = (await signedRequest(url, signer, 'GET', `/v1/scans/${encodeURIComponent(target)}`)) as ScanState;
    if (verb === 'status') return out(s, describeState(s));
    if (s.status !== 'done' && s.status !== 'failed') throw new Error(`${describeState(s)}: no report yet (sealkeep scan start --wait follows a scan to its end)`);
    return conclude(url, signer, s, args, out);
  }
  if (verb === 'list') {
    const scans = (await signedRequest(url, signer, 'GET', '/v1/scans')) as ScanState[];
    const line = (s: ScanState) => `${s.scanId}  ${s.requestedAt}  ${s.status.padEnd(7)} ${String(s.percent).padStart(3)}%  ${s.summary ? `${s.summary.passed ? 'passed' : 'FAILED'} (${counts(s.summary.counts)})` : (s.failure ?? '')}`;
    return out(scans, scans.map(line).join('\n') || '(no scans)');
  }
  throw new Error(`unknown command "scan ${verb ?? ''}"\nusage:\n${SCAN_USAGE}`);
}
