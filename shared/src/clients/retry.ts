import type { Logger } from "../logger.ts";

export interface RetryOptions {
  /** What is being attempted, for logs. */
  what: string;
  logger: Logger;
  /** Give up after this many attempts. @default 30 */
  attempts?: number;
  /** First delay; doubles each time. @default 200 */
  minDelayMs?: number;
  /** Delay ceiling. @default 5000 */
  maxDelayMs?: number;
  /** Stop early when this returns false for an error. @default always retry */
  shouldRetry?: (err: unknown) => boolean;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with full jitter; for connecting to dependencies at boot. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { what, logger, attempts = 30, minDelayMs = 200, maxDelayMs = 5000, shouldRetry = () => true } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !shouldRetry(err)) throw err;
      const delay = Math.round(Math.random() * Math.min(maxDelayMs, minDelayMs * 2 ** (attempt - 1)));
      logger.warn({ what, attempt, delayMs: delay, err }, "dependency not ready, retrying");
      await sleep(delay);
    }
  }
}
