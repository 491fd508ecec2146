import { parsePromText, type PromMetrics } from "./prom-text.ts";

export interface OpsProcess {
  name: string;
  /** Base URL, no trailing slash. */
  url: string;
}

/** What one round of reading a process gave. */
export interface ProcessScrape extends OpsProcess {
  /** When it was read (ms since epoch). */
  at: number;
  readyz?: { status: number; checks: Record<string, string> };
  metrics?: PromMetrics;
  /** Why `/readyz` could not be read; `metrics` may still be there. */
  error?: string;
}

export interface ProcessScraperOptions {
  processes: OpsProcess[];
  /** Per request. @default 2000 */
  timeoutMs?: number;
  /** A scrape younger than this is answered again instead of asking every process twice. @default 1000 */
  maxAgeMs?: number;
  fetch?: typeof fetch;
}

const reason = (err: unknown) => {
  const e = err as Error & { cause?: { code?: string } };
  if (e.name === "TimeoutError") return "timed out";
  return e.cause?.code ?? e.message ?? String(err);
};

/**
 * Reads every process's `/readyz` and `/metrics`, all in parallel, each bounded by a timeout.
 * The cluster table and the charts share one round, so a page refresh asks each process once.
 */
export function createProcessScraper({ processes, timeoutMs = 2000, maxAgeMs = 1000, fetch: doFetch = fetch }: ProcessScraperOptions) {
  let last: { at: number; result: Promise<ProcessScrape[]> } | undefined;

  async function readOne(p: OpsProcess): Promise<ProcessScrape> {
    const get = (path: string) => doFetch(`${p.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    const [readyz, metrics] = await Promise.allSettled([
      get("/readyz").then(async (res) => {
        const body = (await res.json().catch(() => ({}))) as { checks?: unknown };
        const checks = body.checks && typeof body.checks === "object" ? (body.checks as Record<string, string>) : {};
        return { status: res.status, checks };
      }),
      get("/metrics").then(async (res) => (res.ok ? parsePromText(await res.text()) : undefined)),
    ]);
    const out: ProcessScrape = { ...p, at: Date.now() };
    if (readyz.status === "fulfilled") out.readyz = readyz.value;
    else out.error = reason(readyz.reason);
    if (metrics.status === "fulfilled" && metrics.value) out.metrics = metrics.value;
    return out;
  }

  return {
    processes,
    scrape(): Promise<ProcessScrape[]> {
      const now = Date.now();
      if (last && now - last.at < maxAgeMs) return last.result;
      const result = Promise.all(processes.map(readOne));
      last = { at: now, result };
      return result;
    },
  };
}

export type ProcessScraper = ReturnType<typeof createProcessScraper>;
