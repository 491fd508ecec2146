import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, createRedis, type RedisDependency } from "../src/index.ts";
import { stackEnv, uniqueName, waitFor } from "../src/testing/index.ts";

const logger = createLogger({ name: "test", level: "silent" });

describe("redis client factory against the real server", () => {
  let redis: RedisDependency;
  beforeAll(async () => {
    redis = await createRedis({ url: stackEnv.redisUrl, logger });
  });
  afterAll(() => redis.close());

  it("reports readiness, stores with expiry and counts atomically", async () => {
    await expect(redis.check()).resolves.toBeUndefined();
    const key = uniqueName("k");
    await redis.redis.set(key, "v", "PX", 5000);
    expect(await redis.redis.get(key)).toBe("v");
    expect(await redis.redis.pttl(key)).toBeGreaterThan(0);
    await Promise.all(Array.from({ length: 50 }, () => redis.redis.incr(`${key}:n`)));
    expect(await redis.redis.get(`${key}:n`)).toBe("50");
    await redis.redis.del(key, `${key}:n`);
  });

  it("delivers pub/sub through a duplicated connection", async () => {
    const sub = redis.duplicate();
    const channel = uniqueName("ch");
    const got: string[] = [];
    sub.on("message", (_ch, msg) => got.push(msg));
    await sub.subscribe(channel);
    await redis.redis.publish(channel, "hello");
    await waitFor(() => got.length === 1, { what: "pub/sub message" });
    expect(got).toEqual(["hello"]);
  });
});
