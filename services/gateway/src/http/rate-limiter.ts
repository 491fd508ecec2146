import type { Redis } from "ioredis";
import { RateLimitedError, type RedisKeys } from "@chat/shared";

// INCR and the first PEXPIRE in one step, so a crash between them cannot leave a bucket
// without expiry; returns the count and the window's remaining milliseconds.
const FIXED_WINDOW = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`;

export interface RateLimiter {
  /** Counts one hit on `bucket`; throws 429 (with Retry-After) beyond `max` per window. */
  hit(bucket: string, max: number): Promise<void>;
}

/**
 * Fixed-window counters in Redis, so every gateway replica shares the same budget for
 * the same IP, account or user.
 */
export function createRateLimiter({ redis, keys, windowS }: { redis: Redis; keys: RedisKeys; windowS: number }): RateLimiter {
  const windowMs = windowS * 1000;
  return {
    async hit(bucket, max) {
      const [count, ttl] = (await redis.eval(FIXED_WINDOW, 1, keys.rateLimit(bucket), windowMs)) as [number, number];
      if (count > max) {
        throw new RateLimitedError(Math.max(1, Math.ceil((ttl > 0 ? ttl : windowMs) / 1000)));
      }
    },
  };
}
