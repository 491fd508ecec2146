import { z } from "zod";
import { baseEnv, csv, urls, internalEnv, kafkaEnv, pemKeyEnv, port, positiveInt, presenceEnv, redisEnv } from "@chat/shared";

export const gatewayConfigSchema = baseEnv
  .merge(kafkaEnv)
  .merge(redisEnv)
  .merge(presenceEnv)
  .merge(internalEnv)
  .extend({
    /** Public HTTP + Socket.IO port of this replica. */
    PORT: port(3000),
    /** Public gRPC port (chat.Chat/Connect), on HTTP_HOST; 0 disables it. @default PORT + 47051 (3000 -> 50051), or 0 when that is out of range */
    GRPC_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    /** Stable name of this replica; its delivery topic and registry entries carry it. @default gw-<PORT> */
    GATEWAY_ID: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{1,64}$/, "letters, digits, - and _ only")
      .optional(),
    /** Internal auth service base URL. */
    AUTH_URL: z.string().url().default("http://127.0.0.1:4001"),
    /** The message service replicas' internal base URLs, comma-separated: internal calls and proxied REST are shared among them, past any that refuses connections. */
    MESSAGE_URL: urls("http://127.0.0.1:4002,http://127.0.0.1:4012"),
    /** Origins allowed by CORS, comma-separated; "*" allows any. */
    CORS_ORIGINS: csv("*"),
    /** Largest accepted JSON body, in bytes. */
    BODY_LIMIT_BYTES: positiveInt(64 * 1024),
    /** Window of every rate limit, in seconds. */
    RATE_LIMIT_WINDOW_S: positiveInt(60),
    /** Login + register attempts per client IP per window. */
    RATE_LIMIT_AUTH_PER_IP: positiveInt(30),
    /** Login attempts per account (the `login` field) per window. */
    RATE_LIMIT_LOGIN_PER_ACCOUNT: positiveInt(10),
    /** Authenticated API requests per user per window. */
    RATE_LIMIT_PER_USER: positiveInt(1200),
    /** Unauthenticated API requests per IP per window (other than login/register). */
    RATE_LIMIT_PER_IP: positiveInt(600),
    /** Largest Socket.IO / WebSocket frame accepted, in bytes. */
    SOCKET_MAX_PAYLOAD_BYTES: positiveInt(64 * 1024),
    /** Longest accepted message, in characters (the message service enforces it too). */
    MESSAGE_MAX_LENGTH: positiveInt(4000),
    /** Socket events per connection per second (burst: twice that). */
    SOCKET_EVENTS_PER_SECOND: positiveInt(50),
    /** `typing` signals per user per second. */
    TYPING_PER_SECOND: positiveInt(4),
    /** A "typing" with no follow-up turns into "stopped typing" after this long. */
    TYPING_TTL_MS: positiveInt(6_000),
    /** Messages replayed per conversation by a `resume`; more are paged through REST. */
    RESUME_MAX_PER_CONVERSATION: positiveInt(500),
    /** How long a resume retries the history reads behind it (message service away) before telling the device it failed. */
    RESUME_RETRY_MS: positiveInt(20_000),
    /** Kafka session timeout of this gateway's delivery consumer: how soon a dead previous life of it is dropped from its group. */
    KAFKA_SESSION_TIMEOUT_MS: positiveInt(10_000),
    /** Partitions of this gateway's own delivery topic. */
    KAFKA_DELIVERY_PARTITIONS: positiveInt(3),
  })
  .and(pemKeyEnv("JWT_PUBLIC_KEY"))
  .transform((c) => ({ ...c, GATEWAY_ID: c.GATEWAY_ID ?? `gw-${c.PORT}`, GRPC_PORT: c.GRPC_PORT ?? defaultGrpcPort(c.PORT) }));

const GRPC_PORT_OFFSET = 47051;

/** gRPC sits at a fixed offset from HTTP (3000 -> 50051, 3001 -> 50052); an HTTP port on 0 or too high for it has none. */
function defaultGrpcPort(httpPort: number): number {
  const derived = httpPort + GRPC_PORT_OFFSET;
  return httpPort > 0 && derived <= 65535 ? derived : 0;
}

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
