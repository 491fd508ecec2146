import type { z } from "zod";
import { baseEnv, internalEnv, mongoEnv, pemKeyEnv, port, positiveInt, redisEnv } from "@chat/shared";

export const authConfigSchema = baseEnv
  .merge(mongoEnv)
  .merge(redisEnv)
  .merge(internalEnv)
  .extend({
    /** HTTP port of the internal auth API (the gateway proxies to it). */
    PORT: port(4001),
    /** bcrypt cost factor; each +1 doubles hashing time. */
    BCRYPT_COST: positiveInt(10).refine((n) => n >= 4 && n <= 15, "between 4 and 15"),
    /** Access token lifetime in seconds. */
    ACCESS_TOKEN_TTL_S: positiveInt(900),
    /** Refresh token (and session) lifetime in seconds. */
    REFRESH_TOKEN_TTL_S: positiveInt(30 * 24 * 3600),
  })
  .and(pemKeyEnv("JWT_PRIVATE_KEY"))
  .and(pemKeyEnv("JWT_PUBLIC_KEY"));

export type AuthConfig = z.infer<typeof authConfigSchema>;
