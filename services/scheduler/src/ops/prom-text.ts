/** One sample of the Prometheus text exposition format. */
export interface PromSample {
  labels: Record<string, string>;
  value: number;
}

/** Samples by metric name (a histogram's `_bucket`, `_sum` and `_count` are names of their own). */
export type PromMetrics = Map<string, PromSample[]>;

const LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));

/** Parses what a `/metrics` endpoint (prom-client) answers; comments and malformed lines are skipped. */
export function parsePromText(text: string): PromMetrics {
  const out: PromMetrics = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(LABEL)) labels[k!] = unescape(v!);
    const value = Number(m[3]);
    const samples = out.get(m[1]!);
    if (samples) samples.push({ labels, value });
    else out.set(m[1]!, [{ labels, value }]);
  }
  return out;
}

/** The sum of a metric's samples, or null when the process does not export it. */
export function sumOf(metrics: PromMetrics, name: string): number | null {
  const samples = metrics.get(name);
  if (!samples || samples.length === 0) return null;
  return samples.reduce((a, s) => a + s.value, 0);
}

/** A histogram's cumulative bucket counts by upper bound (`le`), summed over its other labels. */
export function bucketsOf(metrics: PromMetrics, name: string): Map<number, number> | null {
  const samples = metrics.get(`${name}_bucket`);
  if (!samples || samples.length === 0) return null;
  const out = new Map<number, number>();
  for (const s of samples) {
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    if (!Number.isNaN(le)) out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/**
 * The q-quantile of the observations a cumulative histogram's buckets counted (linear within
 * the bucket it falls in, as Prometheus's histogram_quantile does); null when it counted none.
 */
export function histogramQuantile(q: number, buckets: Map<number, number>): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      // Past the last finite bound there is no upper edge: answer that bound.
      if (le === Infinity) return prevLe;
      return prevLe + (le - prevLe) * ((rank - prevCount) / Math.max(count - prevCount, Number.EPSILON));
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}
