// The report as a page: everything a finding quotes is escaped, and the page needs nothing but
// itself (no script, no resource outside it). Rendered by headless Chromium (skipped when it is
// not installed) it shows the verdict, the summary and a section per scope with the planted
// findings: the screenshot is a real page (not blank: ink, colours, the red FAILED badge) and
// the DOM Chromium built has every section heading and no script.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderReportHtml } from './report-html.js';
import { buildReport, sectionOf } from './report.js';
import { FindingCollector } from './findings.js';
import { dumpDom, haveChromium, readPng, screenshot } from './headless-chromium.fixture.js';
import { followScan, plant, plantFleet, scanFixture, type ScanFixture } from './scans.fixture.js';

let fx: ScanFixture;
let dir: string;
const planted: Record<string, string> = {};

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-scan-report-'));
  fx = await scanFixture();
  const fleet = await plantFleet(fx.store.db, { tenants: 2, vmsPerTenant: 10 });
  const [a, b] = fleet.tenants as [string, string];
  planted['vms.release-policy.missing'] = await plant.vmWithoutPolicy(fx.store.db, a);
  planted['vms.volume.high-confidentiality-unbound'] = await plant.highConfidentialityVolumeWithoutPolicy(fx.store.db, b);
  planted['audit.entry.altered'] = await plant.tamperedAuditEntry(fx.store.db, b);
  planted['hosts.attestation.stale'] = await plant.staleHost(fx.store.db);
  planted['keys.rotation.overdue'] = await plant.oldKey(fx.store.db, a);
});
after(async () => {
  await fx.close();
  rmSync(dir, { recursive: true, force: true });
});

test('everything a report quotes is escaped; the page refers to nothing outside itself', () => {
  const out = new FindingCollector('vms', 10);
  out.push({ id: 'vms.x<y>&"z"', severity: 'high', scope: 'vms', subject: "tenant:'t'/vm:<b>", message: '<script>alert(1)</script>', expected: '"><img src=x onerror=alert(1)>', found: '</td></tr></table><iframe src="https://example.com">' });
  const report = buildReport(
    { scanId: '<scan>', scopes: ['vms'], requestedBy: 'rv:<ivy>', startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:00:01.000Z', settings: { hostAttestationSeconds: 600, keyRotationDays: 365 } },
    [sectionOf(out, { vms: 1 })],
  );
  const html = renderReportHtml(report);
  assert.doesNotMatch(html, /<script|<img|<iframe|<b>[^\d]|onerror=alert\(1\)>/i);
  assert.match(html, /tenant:&#39;t&#39;\/vm:&lt;b&gt;/);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(html, /&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(html, /vms\.x&lt;y&gt;&amp;&quot;z&quot;/);
  assert.match(html, /rv:&lt;ivy&gt;/);
  const tags = html.match(/<[a-z][^>]*>/gi)!;
  assert.deepEqual(tags.filter((t) => /\s(?:src|href|action)=(?!"#)|https?:|url\(/i.test(t)), [], 'no tag refers outside the page (escaped text may quote anything)');
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;/);
});

test('headless Chromium renders the report: a screenshot of a real page, and every section in its DOM', { skip: !haveChromium && 'chromium is not installed (Debian package chromium; .ci/run installs it)', timeout: 240_000 }, async () => {
  const accepted = await fx.call('post', '/v1/scans', {});
  assert.equal((await followScan(fx, accepted.body.scanId)).at(-1)!.status, 'done');
  const page = await fx.call('get', `/v1/scans/${accepted.body.scanId}/report.html`);
  assert.equal(page.status, 200, page.text);
  const file = path.join(dir, 'report.html');
  writeFileSync(file, page.text);

  const png = path.join(dir, 'report.png');
  await screenshot(file, png, 1280, 2000);
  assert.ok(statSync(png).size > 30_000, `the screenshot holds a page (${statSync(png).size} bytes)`);
  const image = readPng(png);
  assert.deepEqual([image.width, image.height], [1280, 2000]);
  const colours = new Set<number>();
  let ink = 0;
  let badgeRed = 0;
  for (let y = 0; y < image.height; y += 2) {
    for (let x = 0; x < image.width; x += 2) {
      const [r, g, b] = image.rgb(x, y);
      colours.add((r << 16) | (g << 8) | b);
      if (r + g + b < 600) ink++;
      if (Math.abs(r - 0xb3) < 6 && Math.abs(g - 0x26) < 6 && Math.abs(b - 0x1e) < 6) badgeRed++;
    }
  }
  const sampled = (image.width / 2) * (image.height / 2);
  console.log(`# screenshot: ${statSync(png).size} bytes, ${colours.size} colours, ${((ink / sampled) * 100).toFixed(1)} % ink, ${badgeRed} badge-red samples`);
  assert.ok(colours.size > 50, `text and severity colours, not a flat page (${colours.size} colours)`);
  assert.ok(ink / sampled > 0.01, 'text is drawn');
  assert.ok(badgeRed > 200, 'the red FAILED verdict and the high severity chips are drawn');

  const dom = await dumpDom(file);
  for (const heading of ['Sealkeep compliance scan', 'Summary', 'Hosts — ', 'VMs and volumes — ', 'Keys — ', 'Service configuration — ', 'Audit trail — ']) {
    assert.ok(dom.includes(`>${heading}`), `the page has the heading "${heading}"`);
  }
  for (const [id, subject] of Object.entries(planted)) assert.ok(dom.includes(id) && dom.includes(subject), `${id} on ${subject} is in the page`);
  assert.match(dom, /class="verdict fail">FAILED</);
  assert.doesNotMatch(dom, /<script/i);
});
