// Event logs against the quote, as a table of changes to a real launch's logs: a record removed,
// a digest that is not that of its event data, a bank left out, events in both logs, events on
// a PCR the quote does not cover, a malformed record, and no DRTM log at all. Each row pins the
// findings it gives.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { evidenceFixture } from './evidence.fixture.js';
import type { EvidenceBundle } from './bundle.js';
import type { FindingId } from './findings.js';
import { verifyEvidence } from './verify.js';

const NONCE = Buffer.from('abad1dea', 'hex');
interface Rec {
  recnum: number;
  pcr: number;
  digests: Array<{ hashAlg: string; digest: string }>;
  content_type: string;
  content: { event_type: string | number; event_data: string };
}
type Logs = { static: Rec[]; drtm: Rec[] };

const ROWS: Array<[string, (logs: Logs) => void, FindingId[]]> = [
  ['nothing changed', () => {}, []],
  [
    'an EV_IPL record removed: a gap in PCR 19 and two banks that do not replay',
    (l) => void l.drtm.splice(l.drtm.findIndex((r) => r.pcr === 19), 1),
    ['event-log-pcr-mismatch', 'event-log-pcr-mismatch', 'event-log-recnum-gap'],
  ],
  [
    'a separator whose data is not what its digest measured (the replay still matches)',
    (l) => void (l.static.find((r) => r.content.event_type === 'EV_SEPARATOR')!.content.event_data = Buffer.from([0xff, 0xff, 0xff, 0xff]).toString('base64')),
    ['event-digest-mismatch', 'event-digest-mismatch', 'event-digest-mismatch'],
  ],
  [
    'the sha1 digests left out of the DRTM log',
    (l) => l.drtm.forEach((r) => (r.digests = r.digests.filter((d) => d.hashAlg !== 'sha1'))),
    ['event-log-bank-missing'],
  ],
  [
    'a DRTM event copied into the static log',
    (l) => void l.static.push({ ...structuredClone(l.drtm.find((r) => r.pcr === 19)!), recnum: 0 }),
    ['event-log-overlap'],
  ],
  [
    'static events on PCR 9, which the quote does not cover',
    (l) => void l.static.push({ ...structuredClone(l.static.find((r) => r.pcr === 4)!), pcr: 9, recnum: 0 }),
    ['event-log-not-quoted', 'event-log-not-quoted'],
  ],
  [
    'a record without digests',
    (l) => void ((l.drtm[0] as unknown as Record<string, unknown>).digests = 'none'),
    ['event-log-malformed'],
  ],
  [
    'a record number that is not a number',
    (l) => void ((l.static[1] as unknown as Record<string, unknown>).recnum = '1'),
    ['event-log-malformed'],
  ],
];

describe('event logs', () => {
  let good: EvidenceBundle;
  let trustedRoots: string[];
  before(async () => {
    const fx = await evidenceFixture({ modules: 3 });
    good = await fx.bundle(NONCE);
    trustedRoots = fx.trustedRoots;
  });
  const verify = (b: EvidenceBundle) => verifyEvidence(b, { trustedRoots, nonce: NONCE, policy: {} });

  for (const [name, change, expected] of ROWS) {
    test(name, async () => {
      const b = structuredClone(good);
      change(b.eventLogs as Logs);
      const r = await verify(b);
      assert.deepEqual(r.findings.map((f) => f.id).sort(), expected, JSON.stringify(r.findings, null, 2));
    });
  }

  test('the mismatch names the bank, the PCR, the quoted and the replayed value', async () => {
    const b = structuredClone(good);
    const logs = b.eventLogs as Logs;
    logs.drtm.find((r) => r.pcr === 18)!.digests.find((d) => d.hashAlg === 'sha256')!.digest = '11'.repeat(32);
    const [f] = (await verify(b)).findings;
    assert.equal(f?.id, 'event-log-pcr-mismatch');
    assert.match(f!.message, /^sha256 PCR 18: the drtm log does not replay/);
    assert.equal(f!.expected, good.pcrs.sha256!['18']);
    assert.notEqual(f!.found, f!.expected);
  });

  test('without a DRTM log, PCRs 17–22 are reported as not covered (information)', async () => {
    const b = structuredClone(good);
    delete b.eventLogs!.drtm;
    const r = await verify(b);
    assert.equal(r.ok, true);
    assert.deepEqual(r.findings.map((f) => [f.id, f.severity]), [['pcr-not-covered-by-log', 'info'], ['pcr-not-covered-by-log', 'info']]);
    assert.match(r.findings[0]!.message, /^sha256 PCR 17, 18, 19, 20, 21, 22: quoted, but no event log/);
  });
});
