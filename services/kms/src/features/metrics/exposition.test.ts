// The text exposition format as Prometheus reads it: HELP and TYPE before the samples, label
// values and help text escaped, histogram buckets cumulative up to +Inf with _sum and _count,
// special values spelled as the format spells them, and names outside the format refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Reading, renderExposition } from './exposition.js';

test('label values and help text are escaped as the format requires', () => {
  const c = new Counter('demo_total', 'First line\nsecond, with a back\\slash', ['path']);
  c.inc({ path: 'say "hi"\\n\nnext' });
  c.inc({ path: 'plain' }, 2);
  assert.equal(
    renderExposition([c]),
    [
      '# HELP demo_total First line\\nsecond, with a back\\\\slash',
      '# TYPE demo_total counter',
      'demo_total{path="say \\"hi\\"\\\\n\\nnext"} 1',
      'demo_total{path="plain"} 2',
      '',
    ].join('\n'),
  );
});

test('histogram buckets are cumulative, end at +Inf, and come with _sum and _count', () => {
  const h = new Histogram('demo_seconds', 'Demo latency.', ['route'], [0.5, 1]);
  for (const v of [0.25, 0.5, 0.75, 5]) h.observe({ route: '/a' }, v);
  assert.equal(
    renderExposition([h]),
    [
      '# HELP demo_seconds Demo latency.',
      '# TYPE demo_seconds histogram',
      'demo_seconds_bucket{route="/a",le="0.5"} 2',
      'demo_seconds_bucket{route="/a",le="1"} 3',
      'demo_seconds_bucket{route="/a",le="+Inf"} 4',
      'demo_seconds_sum{route="/a"} 6.5',
      'demo_seconds_count{route="/a"} 4',
      '',
    ].join('\n'),
  );
});

test('series are told apart by every label, in the declared label order', () => {
  const c = new Counter('by_two_total', 'Two labels.', ['a', 'b']);
  c.inc({ b: '1', a: 'x' });
  c.inc({ a: 'x', b: '2' });
  c.inc({ a: 'x', b: '1' });
  assert.match(renderExposition([c]), /^by_two_total\{a="x",b="1"\} 2\nby_two_total\{a="x",b="2"\} 1\n$/m);
});

test('read values, including NaN and infinities, are spelled as the format spells them', () => {
  const g = new Reading('demo_gauge', 'Values.', 'gauge', () => [
    { labels: { v: 'nan' }, value: NaN },
    { labels: { v: 'up' }, value: Infinity },
    { labels: { v: 'down' }, value: -Infinity },
    { labels: { v: 'small' }, value: 1.5e-7 },
  ]);
  const lines = renderExposition([g]).split('\n');
  assert.deepEqual(lines.slice(2, 6), ['demo_gauge{v="nan"} NaN', 'demo_gauge{v="up"} +Inf', 'demo_gauge{v="down"} -Inf', 'demo_gauge{v="small"} 1.5e-7']);
});

test('names outside the format, reserved labels, falling counters and unordered buckets are refused', () => {
  assert.throws(() => new Counter('bad-name_total', 'x', []), /invalid metric name/);
  assert.throws(() => new Counter('ok_total', 'x', ['bad-label']), /invalid label name/);
  assert.throws(() => new Histogram('ok_seconds', 'x', ['le'], [1]), /invalid label name/);
  assert.throws(() => new Counter('ok_total', 'x', ['__reserved']), /invalid label name/);
  assert.throws(() => new Histogram('ok_seconds', 'x', [], [1, 1]), /must ascend/);
  assert.throws(() => new Counter('ok_total', 'x', []).inc({}, -1), /only goes up/);
});
