import { z } from "zod";
import { baseEnv, kafkaEnv, port, redisEnv } from "@chat/shared";

export const gatewayConfigSchema = baseEnv
  .merge(kafkaEnv)
  .merge(redisEnv)
  .extend({
    /** Public HTTP + Socket.IO port of this replica. */
    PORT: port(3000),
    /** Stable name of this replica; its delivery topic and registry entries carry it. @default gw-<PORT> */
    GATEWAY_ID: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{1,64}$/, "letters, digits, - and _ only")
      .optional(),
    /** Internal auth service base URL. */
    AUTH_URL: z.string().url().default("http://127.0.0.1:4001"),
    /** Internal message service base URL. */
    MESSAGE_URL: z.string().url().default("http://127.0.0.1:4002"),
  })
  .transform((c) => ({ ...c, GATEWAY_ID: c.GATEWAY_ID ?? `gw-${c.PORT}` }));

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
