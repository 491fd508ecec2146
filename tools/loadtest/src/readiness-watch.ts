import { assertLoopback } from "./loopback.ts";
import { summarize, type Summary } from "./stats.ts";

/** How one process's `/readyz` answered while the load ran. */
export interface ReadinessFigures {
  url: string;
  /** Answer times in ms (a timeout counts as the limit). */
  latencyMs: Summary;
  /** Answers other than 200, by status ("timeout" and "error" for none at all). */
  notReady: Record<string, number>;
}

export interface ReadinessWatch {
  /** Stops asking and returns the figures per URL, in the order given. */
  stop(): Promise<ReadinessFigures[]>;
}

/**
 * Asks each URL's `/readyz` (loopback only) every `intervalMs` (one request at a time per URL,
 * each limited to `timeoutMs`) until stopped: whether readiness keeps answering, and says 200,
 * under load. A probe that times out under load would make an orchestrator take a healthy
 * process out.
 */
export function watchReadiness(urls: string[], { intervalMs = 200, timeoutMs = 2000 }: { intervalMs?: number; timeoutMs?: number } = {}): ReadinessWatch {
  urls.forEach(assertLoopback);
  let stopped = false;
  const loops = urls.map(async (url): Promise<ReadinessFigures> => {
    const times: number[] = [];
    const notReady: Record<string, number> = {};
    while (!stopped) {
      const started = performance.now();
      let outcome: string;
      try {
        const res = await fetch(new URL("/readyz", url), { signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer();
        outcome = String(res.status);
      } catch (err) {
        outcome = (err as Error).name === "TimeoutError" ? "timeout" : "error";
      }
      times.push(Math.min(performance.now() - started, timeoutMs));
      if (outcome !== "200") notReady[outcome] = (notReady[outcome] ?? 0) + 1;
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    return { url, latencyMs: summarize(times), notReady };
  });
  return {
    stop: () => {
      stopped = true;
      return Promise.all(loops);
    },
  };
}
