/**
 * Every Redis key the cluster uses, in one place, so a reader can see the whole keyspace
 * and two services never spell one key two ways. `prefix` isolates clusters and test runs.
 */
export function redisKeys(prefix: string) {
  return {
    /** String, TTL = token's remaining life: the access token with this jti is revoked. */
    revokedJti: (jti: string) => `${prefix}revoked:jti:${jti}`,
    /** String, TTL = refresh lifetime: every token of this session (refresh family) is revoked. */
    revokedSession: (sessionId: string) => `${prefix}revoked:sid:${sessionId}`,
    /** String JSON {userId, sessionId}, TTL = refresh lifetime: a live refresh token, by its hash. */
    refreshToken: (hash: string) => `${prefix}rt:${hash}`,
    /** String, TTL = refresh lifetime: set once when a refresh token is used (reuse detection). */
    refreshTokenUsed: (hash: string) => `${prefix}rt-used:${hash}`,
    /** Hash sessionId -> JSON {createdAt, lastUsedAt, userAgent, ip}: a user's sessions. */
    userSessions: (userId: string) => `${prefix}sessions:${userId}`,
    /** Counter with TTL = window: one rate-limit bucket. */
    rateLimit: (bucket: string) => `${prefix}rl:${bucket}`,
    /** Set of user ids with at least one connected device, on any gateway. */
    onlineUsers: () => `${prefix}presence:online`,
    /** Hash gatewayId -> open connections of this user on that gateway. */
    userGateways: (userId: string) => `${prefix}presence:user:${userId}`,
    /** Set of user ids connected to this gateway (what a sweep cleans when it dies). */
    gatewayUsers: (gatewayId: string) => `${prefix}presence:gw:${gatewayId}`,
    /** Sorted set gatewayId -> last heartbeat (ms since epoch). */
    gateways: () => `${prefix}presence:gateways`,
    /**
     * String, TTL a day from its last change: the version of a user's latest online/offline change
     * (Redis time in µs, or one more than the last if that is not later), so gateways can drop a
     * change that reaches them after a newer one.
     */
    presenceVersion: (userId: string) => `${prefix}presence:ver:${userId}`,
    /** String, short TTL: one sweeper at a time cleans a dead gateway. */
    sweepLock: (gatewayId: string) => `${prefix}presence:sweep:${gatewayId}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
