import { Redis } from "ioredis";
import type { Logger } from "../logger.ts";
import { withRetry } from "./retry.ts";
import { withTimeout, type Dependency } from "./dependency.ts";

export interface RedisDependency extends Dependency {
  redis: Redis;
  /** A second connection for blocking or subscriber use, created on first call and closed with this one. */
  duplicate(): Redis;
}

export interface RedisOptions {
  url: string;
  logger: Logger;
  /** Client name shown in `CLIENT LIST`. */
  connectionName?: string;
}

function makeClient(url: string, connectionName: string | undefined): Redis {
  return new Redis(url, {
    lazyConnect: true,
    connectionName,
    maxRetriesPerRequest: 3,
    // Reconnect forever with a capped backoff; readiness reports the gap meanwhile.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
}

export async function createRedis({ url, logger, connectionName }: RedisOptions): Promise<RedisDependency> {
  const log = logger.child({ component: "redis" });
  const redis = makeClient(url, connectionName);
  redis.on("error", (err) => log.warn({ err }, "redis connection error"));
  await withRetry(() => redis.connect(), { what: "redis connect", logger: log });
  log.info("redis connected");
  const extra: Redis[] = [];
  let closed = false;
  return {
    name: "redis",
    redis,
    duplicate: () => {
      const dup = redis.duplicate();
      dup.on("error", (err) => log.warn({ err }, "redis connection error"));
      extra.push(dup);
      return dup;
    },
    check: async () => {
      await withTimeout(redis.ping(), 2000, "redis ping");
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...extra, redis].map((c) => c.quit()));
    },
  };
}
