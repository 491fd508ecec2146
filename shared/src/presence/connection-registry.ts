import type { ChainableCommander, Redis } from "ioredis";
import type { RedisKeys } from "../redis-keys.ts";

// The next version of a user's presence (KEYS[n] is presenceVersion, ARGV[n] its TTL in ms):
// Redis's own clock in microseconds, or one more than the last version if that is not later
// (two changes in one microsecond, a clock stepped back). A Redis that lost its data starts
// again from its clock, so versions keep growing across its restarts too.
const NEXT_VERSION = `
local function next_version(key, ttl)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local v = math.max(tonumber(redis.call('GET', key) or '0') + 1, now)
  redis.call('SET', key, string.format('%.0f', v), 'PX', ttl)
  return v
end
`;

// Registering and unregistering are single scripts so the "first device anywhere" and
// "last device anywhere" answers are exact even with many gateways racing on one user; each
// answers the change's version, or 0 when the user's presence did not change.
const REGISTER = `${NEXT_VERSION}
local before = redis.call('HLEN', KEYS[1])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[2])
if before == 0 and redis.call('SADD', KEYS[3], ARGV[2]) == 1 then
  return next_version(KEYS[4], ARGV[3])
end
return 0
`;

const UNREGISTER = `${NEXT_VERSION}
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
if redis.call('HLEN', KEYS[1]) == 0 and redis.call('SREM', KEYS[3], ARGV[2]) == 1 then
  return next_version(KEYS[4], ARGV[3])
end
return 0
`;

// Removes a dead gateway's share of a user; answers the version of the change when the user is
// now offline, else 0.
const SWEEP_USER = `${NEXT_VERSION}
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 and redis.call('SREM', KEYS[2], ARGV[2]) == 1 then
  return next_version(KEYS[3], ARGV[3])
end
return 0
`;

/** How long a user's presence version is kept after their last change. */
const VERSION_TTL_MS = "86400000";

/** A user whose presence changed, with the change's version (greater for a later change). */
export interface PresenceChange {
  userId: string;
  version: number;
}

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
  /** A gateway whose last heartbeat is older than this counts as dead, to be swept. @default 15000 */
  gatewayTtlMs?: number;
}

/**
 * Which gateways each user is connected to, in Redis. Gateways write it (register on
 * connect, unregister on disconnect, heartbeat); the message service reads it to route
 * delivery events; a sweep removes the share of a gateway that stopped heart-beating.
 *
 * Routing trusts the registry's entries, not the heartbeats' age: a Redis that hung for longer
 * than the TTL holds every gateway's heartbeat equally old when it answers again, and judged by
 * age, connected devices would look connected nowhere and their messages would go to no
 * gateway. A dead gateway keeps its entries until a sweep removes them (TTL plus a sweep
 * interval); what is written to its topic meanwhile is read by nobody, and its devices catch up
 * from history on the gateway they reconnect to.
 */
export function createConnectionRegistry({ redis, keys, gatewayTtlMs = 15_000 }: ConnectionRegistryOptions) {
  /** Runs REGISTER or UNREGISTER: the version of the user's presence change, if there was one. */
  async function countConnection(script: string, gatewayId: string, userId: string): Promise<number | undefined> {
    const keysOf = [keys.userGateways(userId), keys.gatewayUsers(gatewayId), keys.onlineUsers(), keys.presenceVersion(userId)];
    const version = await redis.eval(script, keysOf.length, ...keysOf, gatewayId, userId, VERSION_TTL_MS);
    return Number(version) || undefined;
  }

  return {
    gatewayTtlMs,

    /** One more connection of `userId` on `gatewayId`; the change's version when it is the user's first anywhere. */
    register: (gatewayId: string, userId: string) => countConnection(REGISTER, gatewayId, userId),

    /** One connection fewer; the change's version when the user has no connection left anywhere. */
    unregister: (gatewayId: string, userId: string) => countConnection(UNREGISTER, gatewayId, userId),

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

    /** The gateways holding a connection of each user (users with none are absent). */
    async gatewaysOf(userIds: string[]): Promise<Map<string, string[]>> {
      const unique = [...new Set(userIds)];
      const result = new Map<string, string[]>();
      if (unique.length === 0) return result;
      const pipeline = redis.pipeline();
      for (const id of unique) pipeline.hkeys(keys.userGateways(id));
      const replies = await execAll(pipeline);
      unique.forEach((id, i) => {
        const gws = (replies[i]?.[1] as string[] | undefined) ?? [];
        if (gws.length > 0) result.set(id, gws);
      });
      return result;
    },

    /** Every gateway that heart-beats, or did until it died and is not swept yet. */
    async knownGateways(): Promise<string[]> {
      return redis.zrange(keys.gateways(), 0, -1);
    },

    /** Gateways whose last heartbeat is older than the TTL. */
    async deadGateways(): Promise<string[]> {
      return redis.zrangebyscore(keys.gateways(), "-inf", `(${Date.now() - gatewayTtlMs}`);
    },

    /**
     * Removes a dead (or cleanly stopped) gateway's connections. Returns the users who
     * thereby went offline. Guarded by a short lock so two sweepers do not both report.
     */
    async sweepGateway(gatewayId: string): Promise<PresenceChange[] | undefined> {
      const locked = await redis.set(keys.sweepLock(gatewayId), "1", "PX", 30_000, "NX");
      if (locked === null) return undefined;
      const offline: PresenceChange[] = [];
      const users = await redis.smembers(keys.gatewayUsers(gatewayId));
      for (const userId of users) {
        const version = Number(
          await redis.eval(SWEEP_USER, 3, keys.userGateways(userId), keys.onlineUsers(), keys.presenceVersion(userId), gatewayId, userId, VERSION_TTL_MS),
        );
        if (version > 0) offline.push({ userId, version });
      }
      await redis.multi().del(keys.gatewayUsers(gatewayId)).zrem(keys.gateways(), gatewayId).del(keys.sweepLock(gatewayId)).exec();
      return offline;
    },
  };
}

export type ConnectionRegistry = ReturnType<typeof createConnectionRegistry>;
