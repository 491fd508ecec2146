import type { ChainableCommander, Redis } from "ioredis";
import type { RedisKeys } from "../redis-keys.ts";

// Registering and unregistering are single scripts so the "first device anywhere" and
// "last device anywhere" answers are exact even with many gateways racing on one user.
const REGISTER = `
local before = redis.call('HLEN', KEYS[1])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[2])
if before == 0 then
  return redis.call('SADD', KEYS[3], ARGV[2])
end
return 0
`;

const UNREGISTER = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
if redis.call('HLEN', KEYS[1]) == 0 then
  return redis.call('SREM', KEYS[3], ARGV[2])
end
return 0
`;

// Removes a dead gateway's share of every user; returns the users who are now offline.
const SWEEP_USER = `
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then
  return redis.call('SREM', KEYS[2], ARGV[2])
end
return 0
`;

// Sets a user's device count on one gateway to what that gateway holds (idempotent).
const RESTORE_USER = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
`;

/**
 * Runs a pipeline and fails if any of its commands failed. ioredis resolves `exec()` with
 * per-command errors instead of rejecting: read as empty answers, a Redis restart would make
 * connected users look connected nowhere, and their messages would be routed to no gateway.
 */
async function execAll(pipeline: ChainableCommander): Promise<Array<[Error | null, unknown]>> {
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
  return replies;
}

export interface ConnectionRegistryOptions {
  redis: Redis;
  keys: RedisKeys;
  /** A gateway counts as alive while its last heartbeat is younger than this. @default 15000 */
  gatewayTtlMs?: number;
}

/**
 * Which gateways each user is connected to, in Redis. Gateways write it (register on
 * connect, unregister on disconnect, heartbeat); the message service reads it to route
 * delivery events; a sweep removes the share of a gateway that stopped heart-beating.
 */
export function createConnectionRegistry({ redis, keys, gatewayTtlMs = 15_000 }: ConnectionRegistryOptions) {
  let aliveCache: { at: number; ids: Set<string> } | undefined;

  async function aliveGateways(): Promise<Set<string>> {
    const now = Date.now();
    if (aliveCache && now - aliveCache.at < 1000) return aliveCache.ids;
    const ids = await redis.zrangebyscore(keys.gateways(), now - gatewayTtlMs, "+inf");
    aliveCache = { at: now, ids: new Set(ids) };
    return aliveCache.ids;
  }

  return {
    gatewayTtlMs,

    /** One more connection of `userId` on `gatewayId`; true when it is the user's first anywhere. */
    async register(gatewayId: string, userId: string): Promise<boolean> {
      const first = await redis.eval(REGISTER, 3, keys.userGateways(userId), keys.gatewayUsers(gatewayId), keys.onlineUsers(), gatewayId, userId);
      return first === 1;
    },

    /** One connection fewer; true when the user has no connection left anywhere. */
    async unregister(gatewayId: string, userId: string): Promise<boolean> {
      const last = await redis.eval(UNREGISTER, 3, keys.userGateways(userId), keys.gatewayUsers(gatewayId), keys.onlineUsers(), gatewayId, userId);
      return last === 1;
    },

    async heartbeat(gatewayId: string): Promise<void> {
      await redis.zadd(keys.gateways(), Date.now(), gatewayId);
    },

    /** Whether the registry still holds any connection of `gatewayId`. */
    async holdsConnectionsOf(gatewayId: string): Promise<boolean> {
      return (await redis.exists(keys.gatewayUsers(gatewayId))) === 1;
    },

    /**
     * Writes back a gateway's connections as it knows them (user -> devices), after the
     * registry lost them: a Redis restart without its data, or a sweep of a gateway that was
     * only paused. Idempotent.
     */
    async restore(gatewayId: string, devicesByUser: Map<string, number>): Promise<void> {
      const pipeline = redis.pipeline();
      for (const [userId, devices] of devicesByUser) {
        pipeline.eval(RESTORE_USER, 3, keys.userGateways(userId), keys.gatewayUsers(gatewayId), keys.onlineUsers(), gatewayId, userId, String(devices));
      }
      await execAll(pipeline);
    },

    /** Live gateways holding a connection of each user (users with none are absent). */
    async gatewaysOf(userIds: string[]): Promise<Map<string, string[]>> {
      const unique = [...new Set(userIds)];
      const result = new Map<string, string[]>();
      if (unique.length === 0) return result;
      const alive = await aliveGateways();
      const pipeline = redis.pipeline();
      for (const id of unique) pipeline.hkeys(keys.userGateways(id));
      const replies = await execAll(pipeline);
      unique.forEach((id, i) => {
        const gws = ((replies[i]?.[1] as string[] | undefined) ?? []).filter((gw) => alive.has(gw));
        if (gws.length > 0) result.set(id, gws);
      });
      return result;
    },

    async liveGateways(): Promise<string[]> {
      return [...(await aliveGateways())];
    },

    /** Gateways whose last heartbeat is older than the TTL. */
    async deadGateways(): Promise<string[]> {
      return redis.zrangebyscore(keys.gateways(), "-inf", `(${Date.now() - gatewayTtlMs}`);
    },

    /**
     * Removes a dead (or cleanly stopped) gateway's connections. Returns the users who
     * thereby went offline. Guarded by a short lock so two sweepers do not both report.
     */
    async sweepGateway(gatewayId: string): Promise<string[] | undefined> {
      const locked = await redis.set(keys.sweepLock(gatewayId), "1", "PX", 30_000, "NX");
      if (locked === null) return undefined;
      const offline: string[] = [];
      const users = await redis.smembers(keys.gatewayUsers(gatewayId));
      for (const userId of users) {
        const gone = await redis.eval(SWEEP_USER, 2, keys.userGateways(userId), keys.onlineUsers(), gatewayId, userId);
        if (gone === 1) offline.push(userId);
      }
      await redis.multi().del(keys.gatewayUsers(gatewayId)).zrem(keys.gateways(), gatewayId).del(keys.sweepLock(gatewayId)).exec();
      return offline;
    },
  };
}

export type ConnectionRegistry = ReturnType<typeof createConnectionRegistry>;
