import { assertLoopback } from "@chat/loadtest/src/loopback.ts";

/** What one process's `/readyz` did while watched. */
export interface ReadinessRecord {
  /** Base URL of the process, as given. */
  url: string;
  /** It answered something else than 200, or did not answer, at least once. */
  flipped: boolean;
  /** First and last poll that was not a 200. */
  firstNotReadyAt?: number;
  lastNotReadyAt?: number;
  /** The last time it answered 200 after a period of not doing so. */
  lastRecoveredAt?: number;
  /** The latest poll's outcome: 200, another status, or why there was no answer. */
  last?: number | string;
  /** The latest poll was a 200. */
  ready: boolean;
  polls: number;
  /**
   * How often each answer other than 200 came: a status the process gave (it said it is not
   * ready) or why there was none ("timeout": too busy or hung to answer in time).
   */
  notReadyOutcomes: Record<string, number>;
}

/** A process that flipped, with what it answered instead of 200: `message-1 (503 ×12, timeout ×1)`. */
export const describeNotReady = (name: string, record: ReadinessRecord): string =>
  `${name} (${Object.entries(record.notReadyOutcomes)
    .map(([outcome, n]) => `${outcome} ×${n}`)
    .join(", ")})`;

export interface ReadinessWatcher {
  /** The records so far, the polling going on. */
  current(): Record<string, ReadinessRecord>;
  /** Every URL's latest poll was a 200. */
  allReady(): boolean;
  /** Stops polling (in-flight polls are dropped) and returns the records by URL. */
  stop(): Record<string, ReadinessRecord>;
}

/**
 * Polls `<url>/readyz` of each process every `intervalMs` (each URL on its own, so a hung
 * process does not slow the others: a poll gives up after twice the interval, at least 1 s).
 */
export function readinessWatcher(urls: string[], intervalMs = 500): ReadinessWatcher {
  for (const url of urls) assertLoopback(url);
  const records = new Map<string, ReadinessRecord>(urls.map((url) => [url, { url, flipped: false, ready: false, polls: 0, notReadyOutcomes: {} }]));
  const abort = new AbortController();
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();

  const poll = async (record: ReadinessRecord): Promise<void> => {
    let outcome: number | string;
    try {
      const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(Math.max(1000, intervalMs * 2))]);
      const res = await fetch(new URL("/readyz", record.url), { signal });
      await res.arrayBuffer().catch(() => undefined);
      outcome = res.status;
    } catch (err) {
      outcome = err instanceof Error ? (err.name === "TimeoutError" ? "timeout" : ((err.cause as { code?: string } | undefined)?.code ?? err.message)) : String(err);
    }
    if (stopped) return;
    const at = Date.now();
    record.polls++;
    record.last = outcome;
    if (outcome === 200) {
      if (!record.ready && record.flipped) record.lastRecoveredAt = at;
      record.ready = true;
    } else {
      record.flipped = true;
      record.notReadyOutcomes[outcome] = (record.notReadyOutcomes[outcome] ?? 0) + 1;
      record.firstNotReadyAt ??= at;
      record.lastNotReadyAt = at;
      record.ready = false;
    }
  };

  const loop = (record: ReadinessRecord): void => {
    if (stopped) return;
    const started = Date.now();
    void poll(record).finally(() => {
      if (stopped) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        loop(record);
      }, Math.max(0, intervalMs - (Date.now() - started)));
      timers.add(timer);
    });
  };
  for (const record of records.values()) loop(record);

  const snapshot = () => Object.fromEntries([...records].map(([url, r]) => [url, { ...r, notReadyOutcomes: { ...r.notReadyOutcomes } }]));
  return {
    current: snapshot,
    allReady: () => [...records.values()].every((r) => r.ready),
    stop() {
      stopped = true;
      abort.abort();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return snapshot();
    },
  };
}
