import type { Logger } from "../logger.ts";

export interface RetryOptions {
  /** What is being attempted, for logs. */
  what: string;
  logger: Logger;
  /** Give up after this many attempts (`Infinity`: never). @default 30 */
  attempts?: number;
  /** First delay; doubles each time. @default 200 */
  minDelayMs?: number;
  /** Delay ceiling. @default 5000 */
  maxDelayMs?: number;
  /** Stop early when this returns false for an error. @default always retry */
  shouldRetry?: (err: unknown) => boolean;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with full jitter: the delay before retry number `attempt` (from 1). */
export function backoffDelay(attempt: number, minDelayMs: number, maxDelayMs: number): number {
  return Math.round(Math.random() * Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt - 1, 30)));
}

/** Exponential backoff with full jitter; for connecting to dependencies at boot. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { what, logger, attempts = 30, minDelayMs = 200, maxDelayMs = 5000, shouldRetry = () => true } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !shouldRetry(err)) throw err;
      const delay = backoffDelay(attempt, minDelayMs, maxDelayMs);
      logger.warn({ what, attempt, delayMs: delay, err }, "dependency not ready, retrying");
      await sleep(delay);
    }
  }
}
