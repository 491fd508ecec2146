import { z } from "zod";
import type { Logger } from "@chat/shared";
import type { Point, RatesView } from "./ops-types.ts";
import { bucketsOf, histogramQuantile, sumOf } from "./prom-text.ts";
import type { ProcessScraper } from "./process-scraper.ts";

/** The recording rules the charts read when Prometheus runs (infra's rules file defines them). */
export const RATE_RULES = {
  sent: "chat:messages_sent:rate1m",
  persisted: "chat:messages_persisted:rate1m",
  delivered: "chat:messages_delivered:rate1m",
  p50: "chat:delivery_latency_seconds:p50",
  p95: "chat:delivery_latency_seconds:p95",
  p99: "chat:delivery_latency_seconds:p99",
} as const;

type Series = keyof typeof RATE_RULES;
const RATE_SERIES = ["sent", "persisted", "delivered"] as const;
const QUANTILES = { p50: 0.5, p95: 0.95, p99: 0.99 } as const;

/** Kept in memory when sampling the processes: 60 samples, 5 minutes at the page's 5 s refresh. */
const RING_SIZE = 60;
/** Prometheus's window and resolution. */
const RANGE_SECONDS = 15 * 60;
const STEP_SECONDS = 15;
/** After Prometheus failed to answer, sample the processes this long before asking it again. */
const PROMETHEUS_BACKOFF_MS = 30_000;

const queryRangeSchema = z.object({
  status: z.literal("success"),
  data: z.object({
    result: z.array(z.object({ metric: z.record(z.string(), z.string()), values: z.array(z.tuple([z.number(), z.string()])) })),
  }),
});

interface Counters {
  sent: number | null;
  persisted: number | null;
  delivered: number | null;
  latency: Map<number, number> | null;
}

export interface Sample {
  at: number;
  byProcess: Map<string, Counters>;
}

/** A counter's increase between two reads; one that went down is a restarted process, counting from zero. */
const increase = (before: number, after: number) => (after >= before ? after - before : after);

/** One point per pair of consecutive samples: the rates and quantiles of what happened between them. */
export function seriesFromSamples(samples: Sample[]): Omit<RatesView, "source"> {
  const out: Omit<RatesView, "source"> = { sent: [], persisted: [], delivered: [], p50: [], p95: [], p99: [] };
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const seconds = (b.at - a.at) / 1000;
    const t = Math.round(b.at / 1000);
    for (const name of RATE_SERIES) {
      let total: number | null = null;
      for (const [proc, after] of b.byProcess) {
        const before = a.byProcess.get(proc)?.[name];
        const now = after[name];
        if (before == null || now == null) continue;
        total = (total ?? 0) + increase(before, now);
      }
      out[name].push([t, total === null ? null : total / seconds]);
    }
    let latency: Map<number, number> | null = null;
    for (const [proc, after] of b.byProcess) {
      const before = a.byProcess.get(proc)?.latency;
      if (!before || !after.latency) continue;
      latency ??= new Map();
      const reset = (after.latency.get(Infinity) ?? 0) < (before.get(Infinity) ?? 0);
      for (const [le, count] of after.latency) latency.set(le, (latency.get(le) ?? 0) + (reset ? count : count - (before.get(le) ?? 0)));
    }
    for (const [name, q] of Object.entries(QUANTILES) as Array<[keyof typeof QUANTILES, number]>) {
      out[name].push([t, latency ? histogramQuantile(q, latency) : null]);
    }
  }
  return out;
}

export interface RatesOptions {
  scraper: ProcessScraper;
  /** Empty: never ask Prometheus. */
  prometheusUrl: string;
  logger: Logger;
  fetch?: typeof fetch;
}

/**
 * The charts' time series: from Prometheus's recording rules when it answers, otherwise
 * from the processes' own counters, sampled on each call into a small ring buffer.
 */
export function createRates({ scraper, prometheusUrl, logger, fetch: doFetch = fetch }: RatesOptions) {
  const log = logger.child({ component: "ops-rates" });
  const ring: Sample[] = [];
  let prometheusDownUntil = 0;

  async function fromPrometheus(): Promise<RatesView> {
    const end = Math.floor(Date.now() / 1000);
    const params = (query: string) =>
      new URLSearchParams({ query, start: String(end - RANGE_SECONDS), end: String(end), step: String(STEP_SECONDS) });
    const entries = await Promise.all(
      (Object.entries(RATE_RULES) as Array<[Series, string]>).map(async ([name, rule]) => {
        const res = await doFetch(`${prometheusUrl}/api/v1/query_range?${params(rule)}`, { signal: AbortSignal.timeout(2000) });
        const body = queryRangeSchema.parse(await res.json());
        // Rules aggregate the cluster already; should one keep labels, add rates up and take the worst quantile.
        const byTime = new Map<number, number | null>();
        for (const series of body.data.result) {
          for (const [t, raw] of series.values) {
            const v = Number(raw);
            const prev = byTime.get(t);
            const value = Number.isFinite(v) ? v : null;
            if (prev == null) byTime.set(t, value);
            else if (value !== null) byTime.set(t, name in QUANTILES ? Math.max(prev, value) : prev + value);
          }
        }
        const points: Point[] = [...byTime].sort((x, y) => x[0] - y[0]);
        return [name, points] as const;
      }),
    );
    return { source: "prometheus", ...(Object.fromEntries(entries) as Record<Series, Point[]>) };
  }

  async function fromProcesses(): Promise<RatesView> {
    const scrapes = await scraper.scrape();
    const at = Math.max(...scrapes.map((s) => s.at));
    if (ring.length === 0 || at > ring.at(-1)!.at) {
      const byProcess = new Map<string, Counters>();
      for (const s of scrapes) {
        if (!s.metrics) continue;
        byProcess.set(s.name, {
          sent: sumOf(s.metrics, "gateway_messages_sent_total"),
          persisted: sumOf(s.metrics, "message_messages_persisted_total"),
          delivered: sumOf(s.metrics, "gateway_messages_delivered_total"),
          latency: bucketsOf(s.metrics, "chat_delivery_latency_seconds"),
        });
      }
      ring.push({ at, byProcess });
      if (ring.length > RING_SIZE) ring.shift();
    }
    return { source: "processes", ...seriesFromSamples(ring) };
  }

  return {
    async rates(): Promise<RatesView> {
      if (prometheusUrl && Date.now() >= prometheusDownUntil) {
        try {
          return await fromPrometheus();
        } catch (err) {
          prometheusDownUntil = Date.now() + PROMETHEUS_BACKOFF_MS;
          log.debug({ err }, "Prometheus did not answer; sampling the processes");
        }
      }
      return fromProcesses();
    },
  };
}

export type Rates = ReturnType<typeof createRates>;
