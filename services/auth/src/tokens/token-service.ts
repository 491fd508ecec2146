import { createHash, createPrivateKey, randomBytes, randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import type { Redis } from "ioredis";
import { TOKEN_ALGORITHM, TOKEN_ISSUER, UnauthorizedError, type AccessClaims, type RedisKeys } from "@chat/shared";

export interface TokenServiceOptions {
  redis: Redis;
  keys: RedisKeys;
  privateKey: string;
  accessTtlS: number;
  refreshTtlS: number;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface SessionInfo {
  sessionId: string;
  createdAt: string;
  lastUsedAt: string;
  userAgent: string;
  ip: string;
}

interface RefreshRecord {
  userId: string;
  username: string;
  sessionId: string;
}

const hashToken = (token: string) => createHash("sha256").update(token).digest("base64url");

/**
 * Access tokens are short-lived ES256 JWTs; refresh tokens are opaque random strings kept
 * (hashed) in Redis, one family per session. Each refresh is single-use: the first use
 * wins a `SET NX`, and any later use of the same token revokes the whole session.
 */
export function createTokenService({ redis, keys, privateKey, accessTtlS, refreshTtlS }: TokenServiceOptions) {
  const refreshTtlMs = refreshTtlS * 1000;
  // Parsed once, not on every sign (jsonwebtoken parses a PEM string each time).
  const signingKey = createPrivateKey(privateKey);

  function signAccess(userId: string, username: string, sessionId: string): string {
    return jwt.sign({ usr: username, sid: sessionId, typ: "access" }, signingKey, {
      algorithm: TOKEN_ALGORITHM,
      issuer: TOKEN_ISSUER,
      subject: userId,
      jwtid: randomUUID(),
      expiresIn: accessTtlS,
    });
  }

  async function issueRefresh(record: RefreshRecord): Promise<string> {
    const token = randomBytes(32).toString("base64url");
    await redis.set(keys.refreshToken(hashToken(token)), JSON.stringify(record), "PX", refreshTtlMs);
    return token;
  }

  async function revokeSession(userId: string, sessionId: string): Promise<void> {
    await redis.multi().set(keys.revokedSession(sessionId), "1", "PX", refreshTtlMs).hdel(keys.userSessions(userId), sessionId).exec();
  }

  return {
    /** A new session (login or register): a fresh refresh family and an access token. */
    async startSession(user: { id: string; username: string }, meta: { userAgent: string; ip: string }): Promise<TokenPair> {
      const sessionId = randomUUID();
      const now = new Date().toISOString();
      const info: SessionInfo = { sessionId, createdAt: now, lastUsedAt: now, userAgent: meta.userAgent.slice(0, 200), ip: meta.ip };
      await redis.hset(keys.userSessions(user.id), sessionId, JSON.stringify(info));
      await redis.pexpire(keys.userSessions(user.id), refreshTtlMs);
      const refreshToken = await issueRefresh({ userId: user.id, username: user.username, sessionId });
      return { accessToken: signAccess(user.id, user.username, sessionId), refreshToken, expiresIn: accessTtlS };
    },

    /** Rotation: the presented token is spent, a new pair in the same family is returned. */
    async rotate(refreshToken: string): Promise<TokenPair> {
      const hash = hashToken(refreshToken);
      const raw = await redis.get(keys.refreshToken(hash));
      if (!raw) throw new UnauthorizedError("Invalid refresh token", "REFRESH_INVALID");
      const record = JSON.parse(raw) as RefreshRecord;
      if (await redis.exists(keys.revokedSession(record.sessionId))) {
        throw new UnauthorizedError("Session revoked", "REFRESH_REVOKED");
      }
      const firstUse = await redis.set(keys.refreshTokenUsed(hash), "1", "PX", refreshTtlMs, "NX");
      if (firstUse === null) {
        // A spent token came back: someone holds a copy. Kill the whole family.
        await revokeSession(record.userId, record.sessionId);
        throw new UnauthorizedError("Refresh token reuse detected; session revoked", "REFRESH_REUSED");
      }
      const sessionKey = keys.userSessions(record.userId);
      const info = await redis.hget(sessionKey, record.sessionId);
      if (info) {
        const session = JSON.parse(info) as SessionInfo;
        session.lastUsedAt = new Date().toISOString();
        await redis.hset(sessionKey, record.sessionId, JSON.stringify(session));
      }
      const next = await issueRefresh(record);
      return {
        accessToken: signAccess(record.userId, record.username, record.sessionId),
        refreshToken: next,
        expiresIn: accessTtlS,
      };
    },

    /** Logout: this access token (until it would expire) and its whole session stop working. */
    async logout(claims: AccessClaims): Promise<void> {
      const remainingMs = Math.max(1000, claims.exp * 1000 - Date.now());
      await redis.set(keys.revokedJti(claims.jti), "1", "PX", remainingMs);
      await revokeSession(claims.userId, claims.sessionId);
    },

    async listSessions(userId: string): Promise<SessionInfo[]> {
      const all = await redis.hgetall(keys.userSessions(userId));
      return Object.values(all)
        .map((v) => JSON.parse(v) as SessionInfo)
        .sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
