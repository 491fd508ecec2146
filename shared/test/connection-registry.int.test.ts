import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConnectionRegistry, createLogger, createRedis, redisKeys, type RedisDependency } from "../src/index.ts";
import { stackEnv, uniqueName } from "../src/testing/index.ts";

const logger = createLogger({ name: "test", level: "silent" });

describe("connection registry against the real server", () => {
  let redis: RedisDependency;
  beforeAll(async () => {
    redis = await createRedis({ url: stackEnv.redisUrl, logger });
  });
  afterAll(() => redis.close());

  const registryOf = () => {
    const keys = redisKeys(`${uniqueName("reg")}:`);
    return { keys, registry: createConnectionRegistry({ redis: redis.redis, keys }) };
  };

  it("versions each user's online and offline changes, growing across gateways and sweeps", async () => {
    const { keys, registry } = registryOf();
    const versions: number[] = [];
    const take = (v: number | undefined) => {
      expect(v).toBeGreaterThan(0);
      versions.push(v!);
    };

    // The first device anywhere is a change; a second one, on another gateway, is not.
    take(await registry.register("gw-a", "u1"));
    expect(await registry.register("gw-b", "u1")).toBeUndefined();
    // Leaving one gateway while connected to the other is not a change; leaving the last is.
    expect(await registry.unregister("gw-a", "u1")).toBeUndefined();
    take(await registry.unregister("gw-b", "u1"));
    // The move the two gateways announce: offline from one, online from the other, in that order.
    take(await registry.register("gw-a", "u1"));
    take(await registry.unregister("gw-a", "u1"));
    take(await registry.register("gw-b", "u1"));
    // A sweep of a dead gateway that held the last device is a change too.
    const swept = await registry.sweepGateway("gw-b");
    expect(swept).toHaveLength(1);
    expect(swept![0]!.userId).toBe("u1");
    take(swept![0]!.version);

    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]!);
    // Versions outlive the registry's own entries (a day after the last change).
    expect(await redis.redis.pttl(keys.presenceVersion("u1"))).toBeGreaterThan(23 * 3600_000);
  });

  it("keeps versions growing when the stored one is ahead of Redis's clock, and when it was lost", async () => {
    const { keys, registry } = registryOf();
    // A version ahead of the clock (a clock stepped back): the next is one more.
    const ahead = Date.now() * 1000 + 3_600_000_000;
    await redis.redis.set(keys.presenceVersion("u2"), String(ahead));
    expect(await registry.register("gw-a", "u2")).toBe(ahead + 1);
    // Lost (a Redis restarted without its data): the next comes from the clock, still above every earlier one of it.
    const before = await registry.unregister("gw-a", "u2");
    await redis.redis.del(keys.presenceVersion("u2"));
    const fromClock = await registry.register("gw-a", "u2");
    expect(fromClock).toBeGreaterThan(Date.now() * 1000 - 60_000_000);
    expect(before).toBe(ahead + 2);
  });
});
