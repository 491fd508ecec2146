import type { z } from "zod";
import { baseEnv, mongoEnv, port, redisEnv } from "@chat/shared";

export const authConfigSchema = baseEnv.merge(mongoEnv).merge(redisEnv).extend({
  /** HTTP port of the internal auth API (the gateway proxies to it). */
  PORT: port(4001),
});

export type AuthConfig = z.infer<typeof authConfigSchema>;

