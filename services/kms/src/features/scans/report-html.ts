// A finished scan's report as one self-contained HTML page for people: the verdict and counts by
// severity first, a table of scopes, then a section per scope with its findings (high first;
// informational ones folded under <details>). Inline CSS only — no script, font, image or any
// other resource, and a Content-Security-Policy that forbids them; every value from the report
// is escaped, so nothing a finding quotes can become markup.

import { SEVERITIES, type Finding, type Severity } from './findings.js';
import type { ScanReport, ScanSection } from './report.js';

/** The page's policy: its own inline styles and nothing else (also sent as a response header). */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; base-uri 'none'";

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value: unknown): string => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const LABEL: Record<Severity, string> = { high: 'High', medium: 'Medium', low: 'Low', info: 'Info' };

const STYLE = `
  :root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --pass: #1b7f3b; --fail: #b3261e;
          --high: #b3261e; --medium: #b85c00; --low: #8a7a00; --info: #3a5a98; }
  * { box-sizing: border-box; }
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); margin: 0; background: #f5f7fa; }
  main { max-width: 1200px; margin: 0 auto; padding: 32px 24px 48px; }
  header { display: flex; justify-content: space-between; align-items: flex-start; gap: 24px; border-bottom: 2px solid var(--line); padding-bottom: 16px; }
  h1 { font-size: 26px; margin: 0 0 6px; }
  h2 { font-size: 20px; margin: 0 0 10px; }
  .meta { color: var(--muted); margin: 0; font-size: 13px; }
  .meta code { font-size: 12px; }
  .verdict { font-size: 22px; font-weight: 700; padding: 8px 18px; border-radius: 6px; color: #fff; white-space: nowrap; }
  .verdict.pass { background: var(--pass); } .verdict.fail { background: var(--fail); }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px; margin-top: 20px; }
  .counts { display: flex; gap: 12px; margin: 4px 0 16px; flex-wrap: wrap; }
  .count { border: 1px solid var(--line); border-left-width: 6px; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
  .count b { display: block; font-size: 24px; }
  .count.high { border-left-color: var(--high); } .count.medium { border-left-color: var(--medium); }
  .count.low { border-left-color: var(--low); } .count.info { border-left-color: var(--info); }
  table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
  th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
  th { background: #eef1f6; font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; word-break: break-all; }
  table.findings { table-layout: fixed; }
  table.findings td { overflow-wrap: anywhere; }
  col.sev-col { width: 84px; } col.id-col { width: 21%; } col.subject-col { width: 22%; } col.value-col { width: 13%; }
  .sev { display: inline-block; min-width: 64px; text-align: center; border-radius: 4px; padding: 1px 6px; color: #fff; font-size: 12px; font-weight: 600; }
  .sev.high { background: var(--high); } .sev.medium { background: var(--medium); } .sev.low { background: var(--low); } .sev.info { background: var(--info); }
  .result.pass { color: var(--pass); font-weight: 600; } .result.fail { color: var(--fail); font-weight: 600; }
  .checked, .none, .note { color: var(--muted); margin: 0 0 10px; }
  details { margin-top: 12px; } summary { cursor: default; color: var(--muted); font-weight: 600; margin-bottom: 8px; }
  footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
`;

const sev = (s: Severity) => `<span class="sev ${s}">${LABEL[s]}</span>`;
const result = (passed: boolean) => `<span class="result ${passed ? 'pass' : 'fail'}">${passed ? 'Pass' : 'Fail'}</span>`;
const checkedText = (checked: Record<string, number>) => Object.entries(checked).map(([what, n]) => `${n} ${what}`).join(', ') || 'nothing';

/** An expected or found value: long unbroken ones (hashes) in code, so they wrap. */
const value = (v: string | undefined) => (v === undefined ? '' : /\S{24,}/.test(v) ? `<code>${escapeHtml(v)}</code>` : escapeHtml(v));

function findingsTable(findings: readonly Finding[]): string {
  const rows = findings.map(
    (f) =>
      `<tr><td>${sev(f.severity)}</td><td><code>${escapeHtml(f.id)}</code></td><td><code>${escapeHtml(f.subject)}</code></td>` +
      `<td>${escapeHtml(f.message)}</td><td>${value(f.expected)}</td><td>${value(f.found)}</td></tr>`,
  );
  const cols = '<colgroup><col class="sev-col"><col class="id-col"><col class="subject-col"><col><col class="value-col"><col class="value-col"></colgroup>';
  return `<table class="findings">${cols}<thead><tr><th>Severity</th><th>Finding</th><th>Subject</th><th>Message</th><th>Expected</th><th>Found</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function sectionHtml(s: ScanSection): string {
  const notable = s.findings.filter((f) => f.severity !== 'info');
  const info = s.findings.filter((f) => f.severity === 'info');
  const parts = [
    `<section id="scope-${escapeHtml(s.scope)}"><h2>${escapeHtml(s.title)} — ${result(s.passed)}</h2>`,
    `<p class="checked">Checked: ${escapeHtml(checkedText(s.checked))}. Findings: ${SEVERITIES.map((x) => `${s.counts[x]} ${x}`).join(', ')}.</p>`,
    notable.length ? findingsTable(notable) : '<p class="none">No high, medium or low findings.</p>',
    info.length ? `<details><summary>${info.length} informational finding${info.length === 1 ? '' : 's'}</summary>${findingsTable(info)}</details>` : '',
    s.omitted ? `<p class="note">${s.omitted} more findings are counted above but not listed.</p>` : '',
    '</section>',
  ];
  return parts.join('\n');
}

function summaryHtml(r: ScanReport): string {
  const { counts, passed } = r.summary;
  const boxes = SEVERITIES.map((s) => `<div class="count ${s}"><b>${counts[s]}</b>${LABEL[s]}</div>`).join('');
  const rows = r.sections.map(
    (s) =>
      `<tr><td><a href="#scope-${escapeHtml(s.scope)}">${escapeHtml(s.title)}</a></td><td>${escapeHtml(checkedText(s.checked))}</td>` +
      SEVERITIES.map((x) => `<td class="num">${s.counts[x]}</td>`).join('') +
      `<td>${result(s.passed)}</td></tr>`,
  );
  return [
    '<section id="summary"><h2>Summary</h2>',
    `<div class="counts">${boxes}</div>`,
    `<table><thead><tr><th>Scope</th><th>Checked</th>${SEVERITIES.map((x) => `<th class="num">${LABEL[x]}</th>`).join('')}<th>Result</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    `<p class="note">${passed ? 'The scan passes: no finding is high.' : `The scan fails: ${counts.high} high finding${counts.high === 1 ? '' : 's'}.`} ` +
      `Thresholds: host attestations hold ${escapeHtml(r.settings.hostAttestationSeconds)} s; keys rotate every ${escapeHtml(r.settings.keyRotationDays)} days.</p>`,
    '</section>',
  ].join('\n');
}

export function renderReportHtml(r: ScanReport): string {
  const verdict = r.summary.passed ? 'PASSED' : 'FAILED';
  const seconds = ((new Date(r.finishedAt).getTime() - new Date(r.startedAt).getTime()) / 1000).toFixed(1);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(REPORT_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sealkeep compliance scan ${escapeHtml(r.scanId)}: ${verdict}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<div><h1>Sealkeep compliance scan</h1>
<p class="meta">Scan <code>${escapeHtml(r.scanId)}</code> requested by ${escapeHtml(r.requestedBy)}; scopes: ${escapeHtml(r.scopes.join(', '))}.</p>
<p class="meta">Started ${escapeHtml(r.startedAt)}, finished ${escapeHtml(r.finishedAt)} (${seconds} s).</p></div>
<div class="verdict ${r.summary.passed ? 'pass' : 'fail'}">${verdict}</div>
</header>
${summaryHtml(r)}
${r.sections.map(sectionHtml).join('\n')}
<footer>Rendered by Sealkeep from the scan's JSON report (GET /v1/scans/${escapeHtml(r.scanId)}). Findings name ids, classifications and states only; no key material is read by a scan.</footer>
</main>
</body>
</html>
`;
}
