import { z } from "zod";
import { amqpEnv, baseEnv, internalEnv, kafkaEnv, mongoEnv, port, positiveInt, redisEnv, urls } from "@chat/shared";
import { parseDuration } from "./automessages/duration.ts";

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "a duration like 90s, 15m, 24h or 2d" });
        return z.NEVER;
      }
      return ms;
    });

const DEFAULT_CONTENTS = [
  "Hi! Hope your day is going well.",
  "Hey, how are things on your side?",
  "Good morning! Anything fun planned today?",
  "Just saying hello 👋",
  "Hi there, long time no talk!",
].join("|");

export const automessageEnv = z.object({
  /** When the nightly planner runs (node-cron syntax, seconds field optional). */
  PLANNER_CRON: z.string().default("0 2 * * *"),
  /** When the queue job runs. */
  QUEUE_CRON: z.string().default("* * * * *"),
  /** Timezone of both cron expressions and of the plan's date. */
  SCHEDULER_TIMEZONE: z.string().default("UTC"),
  /** A planned message is sent at a random time within this window after planning. */
  PLAN_SEND_WITHIN: duration("24h"),
  /** The contents a planned message picks from, separated by "|". */
  AUTOMESSAGE_CONTENTS: z
    .string()
    .default(DEFAULT_CONTENTS)
    .transform((v) => v.split("|").map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().max(4000)).min(1, "needs at least one content")),
  /** Due messages claimed and published per round of the queue job. */
  QUEUE_BATCH_SIZE: positiveInt(500),
  /** Queued this long and still not sent: published again (a crash may have lost it). */
  REQUEUE_AFTER: duration("10m"),
  /** Sends tried per AutoMessage before it goes to the dead-letter queue. */
  AUTOMESSAGE_MAX_ATTEMPTS: positiveInt(5),
  /** First retry delay; each next one is 4x longer. */
  AUTOMESSAGE_RETRY_BASE: duration("2s"),
});

/** The native stack's processes, as `name=url`: what the operator console shows by default. */
const NATIVE_PROCESSES = [
  "gateway-3000=http://127.0.0.1:3000",
  "gateway-3001=http://127.0.0.1:3001",
  "auth=http://127.0.0.1:4001",
  "message-1=http://127.0.0.1:4002",
  "message-2=http://127.0.0.1:4012",
  "scheduler=http://127.0.0.1:4003",
  "worker=http://127.0.0.1:4004",
].join(",");

export const opsConsoleEnv = z.object({
  /** The cluster's processes the operator console reads `/readyz` and `/metrics` of: comma list of `name=url`. */
  OPS_PROCESSES: z
    .string()
    .default(NATIVE_PROCESSES)
    .transform((v, ctx) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((entry) => {
          const at = entry.indexOf("=");
          const name = entry.slice(0, at).trim();
          const url = entry.slice(at + 1).trim();
          if (at <= 0 || !/^[A-Za-z0-9._-]{1,64}$/.test(name) || !URL.canParse(url)) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${entry}" is not name=http://host:port` });
          }
          return { name, url: url.replace(/\/+$/, "") };
        }),
    )
    .pipe(z.array(z.object({ name: z.string(), url: z.string() })).min(1, "needs at least one process")),
  /** Prometheus the console's charts read recording rules from; empty: sample the processes' own counters. */
  PROMETHEUS_URL: z.union([z.literal(""), z.string().url()]).default("http://127.0.0.1:9090"),
});

export const schedulerConfigSchema = baseEnv
  .merge(mongoEnv)
  .merge(redisEnv)
  .merge(amqpEnv)
  .merge(kafkaEnv)
  .merge(internalEnv)
  .merge(opsConsoleEnv)
  .merge(automessageEnv)
  .extend({
    /** HTTP port of the scheduler role (ops + admin endpoints). */
    PORT: port(4003),
    /** Internal auth service base URL (the active users the planner pairs). */
    AUTH_URL: z.string().url().default("http://127.0.0.1:4001"),
    /** Bearer token operators use on `/admin/*`. */
    ADMIN_API_TOKEN: z.string().min(16, "at least 16 characters"),
    /** Name of this replica in job-run records. @default scheduler-<pid> */
    SCHEDULER_REPLICA_ID: z.string().default(`scheduler-${process.pid}`),
    /** Set to false to serve admin/CLI only, without cron ticks. */
    SCHEDULER_CRON_ENABLED: z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
  });

export const workerConfigSchema = baseEnv
  .merge(mongoEnv)
  .merge(kafkaEnv)
  .merge(amqpEnv)
  .merge(internalEnv)
  .merge(automessageEnv)
  .extend({
    /** HTTP port of the worker role (ops endpoints). */
    PORT: port(4004),
    /** The message service replicas' internal base URLs, comma-separated (direct conversations; shared among them, past any that refuses connections). */
    MESSAGE_URL: urls("http://127.0.0.1:4002,http://127.0.0.1:4012"),
    /** Unacknowledged AutoMessages one worker holds at a time (it handles them in batches of up to 100). */
    WORKER_PREFETCH: positiveInt(300),
  });

export type AutoMessageSettings = z.infer<typeof automessageEnv>;
export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;
export type WorkerConfig = z.infer<typeof workerConfigSchema>;
