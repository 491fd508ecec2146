import { z } from "zod";
import { csv, positiveInt } from "./env-types.ts";

/** Settings every process shares; each service extends this with its own. */
export const baseEnv = z.object({
  /** pino level. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Address the process's HTTP server binds to. */
  HTTP_HOST: z.string().default("127.0.0.1"),
  /** Which proxies' X-Forwarded-For to believe (express "trust proxy"): "loopback", "uniquelocal", a CIDR list. */
  TRUST_PROXY: z.string().default("loopback"),
  /** How long shutdown may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: positiveInt(15_000),
});

export const kafkaEnv = z.object({
  /** Kafka bootstrap servers, comma-separated host:port. */
  KAFKA_BROKERS: csv("127.0.0.1:9092"),
  /** Partitions for the project's topics when they are first created. */
  KAFKA_PARTITIONS: positiveInt(12),
  /** Replication factor for the project's topics (3 on the 3-broker stack). */
  KAFKA_REPLICATION_FACTOR: positiveInt(1),
  /** Prepended to every topic name, so several clusters (or test runs) can share brokers. */
  KAFKA_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only").default(""),
  /**
   * How long a pipeline consumer (a gateway's deliveries, the message service's topics) waits
   * after handling what a fetch brought before it fetches again, so that the next fetch, and the
   * store write, produce and commit that follow it, carry more records. Costs at most this much
   * latency per hop, and nothing while a topic is idle. 0 fetches again at once.
   */
  KAFKA_FETCH_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(25),
});

export const mongoEnv = z.object({
  /** MongoDB (or Mongo-wire server) connection string. */
  MONGO_URL: z.string().default("mongodb://127.0.0.1:27017"),
  /** Database name. */
  MONGO_DB: z.string().min(1).default("chat"),
});

export const redisEnv = z.object({
  /** Redis connection URL. */
  REDIS_URL: z.string().default("redis://127.0.0.1:6379"),
  /** Prefix on every key this cluster writes, so several clusters (or test runs) share one Redis. */
  REDIS_PREFIX: z.string().default("chat:"),
});

export const amqpEnv = z.object({
  /** RabbitMQ AMQP URL. */
  AMQP_URL: z.string().default("amqp://guest:guest@127.0.0.1:5672"),
  /** Prepended to every queue name, so several clusters (or test runs) share one broker. */
  AMQP_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only").default(""),
});

export const presenceEnv = z.object({
  /** How often a gateway says it is alive. */
  PRESENCE_HEARTBEAT_MS: positiveInt(5_000),
  /** A gateway silent this long is dead: the next sweep takes its users offline, and with them its deliveries. */
  PRESENCE_GATEWAY_TTL_MS: positiveInt(15_000),
  /** How often gateways look for dead gateways to sweep. */
  PRESENCE_SWEEP_MS: positiveInt(5_000),
});

export const internalEnv = z.object({
  /** Shared secret for service-to-service calls (`/internal/*`, server-side push). */
  INTERNAL_API_TOKEN: z.string().min(16, "at least 16 characters"),
});
