// Metric families and the Prometheus text exposition format (version 0.0.4): counters and
// histograms the service updates, gauges read when scraped, and the rendering — a HELP and a
// TYPE line per family, then one line per sample, label values escaped (\\, \", \n).

export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels<L extends string = string> = Readonly<Record<L, string>>;

export interface Sample {
  /** Appended to the family name: `_bucket`, `_sum`, `_count` for histograms. */
  suffix?: string;
  labels: Labels;
  value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  samples(): Iterable<Sample>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkNames(name: string, labelNames: readonly string[]): void {
  if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name "${name}"`);
  for (const l of labelNames) {
    if (!LABEL_NAME.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label name "${l}" on ${name}`);
  }
}

/** One series per distinct combination of label values. */
class SeriesMap<L extends string, S> {
  private readonly series = new Map<string, { labels: Labels<L>; state: S }>();
  constructor(
    private readonly labelNames: readonly L[],
    private readonly init: () => S,
  ) {}

  get(labels: Labels<L>): S {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const own = Object.fromEntries(this.labelNames.map((n) => [n, labels[n]])) as Labels<L>;
      s = { labels: own, state: this.init() };
      this.series.set(key, s);
    }
    return s.state;
  }

  entries(): Iterable<{ labels: Labels<L>; state: S }> {
    return this.series.values();
  }
}

export class Counter<L extends string> implements MetricFamily {
  readonly type = 'counter';
  private readonly series: SeriesMap<L, { value: number }>;
  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
  ) {
    checkNames(name, labelNames);
    this.series = new SeriesMap(labelNames, () => ({ value: 0 }));
  }

  inc(labels: Labels<L>, by = 1): void {
    if (!(by >= 0)) throw new Error(`a counter only goes up (${this.name} by ${by})`);
    this.series.get(labels).value += by;
  }

  *samples(): Iterable<Sample> {
    for (const { labels, state } of this.series.entries()) yield { labels, value: state.value };
  }
}

export class Histogram<L extends string> implements MetricFamily {
  readonly type = 'histogram';
  private readonly series: SeriesMap<L, { buckets: number[]; sum: number; count: number }>;
  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    /** Upper bounds, ascending; +Inf is implied. */
    private readonly bounds: readonly number[],
  ) {
    checkNames(name, labelNames);
    if (bounds.some((b, i) => i > 0 && b <= bounds[i - 1]!)) throw new Error(`bucket bounds of ${name} must ascend`);
    this.series = new SeriesMap(labelNames, () => ({ buckets: new Array<number>(bounds.length).fill(0), sum: 0, count: 0 }));
  }

  observe(labels: Labels<L>, value: number): void {
    const s = this.series.get(labels);
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) s.buckets[i]!++;
    s.sum += value;
    s.count++;
  }

  *samples(): Iterable<Sample> {
    for (const { labels, state } of this.series.entries()) {
      let cumulative = 0;
      for (const [i, bound] of this.bounds.entries()) {
        cumulative += state.buckets[i]!;
        yield { suffix: '_bucket', labels: { ...labels, le: formatValue(bound) }, value: cumulative };
      }
      yield { suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: state.count };
      yield { suffix: '_sum', labels, value: state.sum };
      yield { suffix: '_count', labels, value: state.count };
    }
  }
}

/** Values read when scraped: gauges, and counters kept elsewhere (e.g. by the audit trail). */
export class Reading implements MetricFamily {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly read: () => number | Iterable<{ labels: Labels; value: number }>,
  ) {
    checkNames(name, []);
  }

  *samples(): Iterable<Sample> {
    const v = this.read();
    if (typeof v === 'number') yield { labels: {}, value: v };
    else yield* v;
  }
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabelValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** The families in the text exposition format, each line ending in a newline. */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples()) lines.push(`${f.name}${s.suffix ?? ''}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return lines.join('\n') + '\n';
}
