// The finding ids are a promise to reviewers' scripts: stable kebab-case, each with one severity,
// and each documented in README.md with that severity (the table is checked against the code).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FINDINGS, FINDING_IDS, FindingCollector } from './findings.js';

test('every finding id is kebab-case and documented in README.md with its severity', () => {
  const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
  const documented = new Map([...readme.matchAll(/^\| `([a-z0-9-]+)` \| (error|warning|info) \|/gm)].map((m) => [m[1]!, m[2]!]));
  for (const id of FINDING_IDS) assert.match(id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  assert.deepEqual(Object.fromEntries(documented), { ...FINDINGS });
});

test('the collector keeps every finding in order; ok means no error', () => {
  const f = new FindingCollector();
  assert.equal(f.ok, true);
  f.add('policy-not-given', 'no policy');
  f.add('quote-nonce-not-checked', 'no nonce', { found: 'ab' });
  assert.equal(f.ok, true);
  f.add('quote-signature-invalid', 'bad', { expected: 'x', found: 'y' });
  assert.equal(f.ok, false);
  assert.deepEqual(f.findings.map((x) => [x.id, x.severity]), [['policy-not-given', 'info'], ['quote-nonce-not-checked', 'warning'], ['quote-signature-invalid', 'error']]);
  assert.deepEqual(f.findings[2], { id: 'quote-signature-invalid', severity: 'error', message: 'bad', expected: 'x', found: 'y' });
  assert.ok(f.has('quote-nonce-not-checked'));
});
