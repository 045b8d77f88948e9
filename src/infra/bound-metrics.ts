import type { Counter, LabelValues, Metric, Registry } from 'prom-client';

/*
 * Metric series bound to their labels once, for the paths that run on every request: the HTTP
 * histogram and the sold-out refusal counter. prom-client's observe()/inc() validate the label
 * object, build a key string from it and look that up on every call (≈ 1–2.5 µs each on the
 * benchmark machine: a tenth of the API's extra cost over a hello-world route for a 409 answered
 * from memory, BENCHMARKS.md). A bound series is a few array and number updates.
 */

/** what prom-client's registries read from a metric's get() (its own types are not exported) */
interface ExposedValue {
  labels: Partial<Record<string, string | number>>;
  value: number;
  metricName: string;
  /** buckets carry one, as prom-client's do (none: exemplars are off) */
  exemplar?: null;
}
interface ExposedMetric {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: ExposedValue[];
}

/** One label set of a BoundHistogram: observe() is the hot path. */
export class HistogramSeries<T extends string> {
  /** observations per bucket (not cumulative), one slot per upper bound */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(
    readonly labels: Readonly<LabelValues<T>>,
    readonly upperBounds: readonly number[],
  ) {
    this.#counts = new Float64Array(upperBounds.length);
  }

  /** Count one value; non-finite values are ignored (prom-client would throw, in a response hook). */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i += 1;
    if (i < bounds.length) this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#sum += value;
    this.#count += 1;
  }

  /** prom-client's histogram values for this series, in its order: buckets (cumulative), +Inf, sum, count. */
  values(name: string): ExposedValue[] {
    const out: ExposedValue[] = [];
    let cumulative = 0;
    this.upperBounds.forEach((le, i) => {
      cumulative += this.#counts[i] as number;
      out.push({ labels: { le, ...this.labels }, value: cumulative, metricName: `${name}_bucket`, exemplar: null });
    });
    out.push({ labels: { le: '+Inf', ...this.labels }, value: this.#count, metricName: `${name}_bucket`, exemplar: null });
    out.push({ labels: { ...this.labels }, value: this.#sum, metricName: `${name}_sum` });
    out.push({ labels: { ...this.labels }, value: this.#count, metricName: `${name}_count` });
    return out;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}

/**
 * A Prometheus histogram whose callers bind each label set once (`series(labels)`) and keep the
 * series. It registers with prom-client registries as a metric of its own and is exposed exactly
 * as a prom-client Histogram with the same observations would be (test/infra/bound-metrics.test.ts
 * compares the two). A series is never dropped: bind only label sets of bounded cardinality.
 */
export class BoundHistogram<T extends string> {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #upperBounds: readonly number[];
  readonly #series: HistogramSeries<T>[] = [];

  readonly name: string;
  readonly help: string;

  constructor(config: { name: string; help: string; buckets: readonly number[]; registers: readonly Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.#upperBounds = [...config.buckets].sort((a, b) => a - b);
    // the registry only calls get(), reset() and reads name/type/help/aggregator
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  series(labels: LabelValues<T>): HistogramSeries<T> {
    const series = new HistogramSeries<T>({ ...labels }, this.#upperBounds);
    this.#series.push(series);
    return series;
  }

  async get(): Promise<ExposedMetric> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.#series.flatMap((s) => s.values(this.name)) };
  }

  reset(): void {
    for (const series of this.#series) series.reset();
  }
}

/** One label set of a prom-client Counter, counted locally and added to the counter when it is read. */
export interface CounterSeries {
  inc(): void;
}

const boundSeries = new WeakMap<Counter<string>, (() => void)[]>();

/**
 * Bind a label set of a counter built with `collect: flushBoundSeries`: inc() adds to a local
 * number, which the counter's collect hook (run by prom-client before every read of the
 * counter: /metrics, get()) adds to the counter and zeroes.
 */
export function bindCounter<T extends string>(counter: Counter<T>, labels: LabelValues<T>): CounterSeries {
  let pending = 0;
  const flushers = boundSeries.get(counter) ?? [];
  boundSeries.set(counter, flushers);
  flushers.push(() => {
    if (pending === 0) return;
    counter.inc(labels, pending);
    pending = 0;
  });
  return {
    inc() {
      pending += 1;
    },
  };
}

/** The `collect` hook of a counter that has bound series. */
export function flushBoundSeries(this: Counter<string>): void {
  for (const flush of boundSeries.get(this) ?? []) flush();
}
