import { z } from "zod";
import { amqpEnv, baseEnv, internalEnv, kafkaEnv, mongoEnv, port, positiveInt, redisEnv } from "@chat/shared";
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

export const schedulerConfigSchema = baseEnv
  .merge(mongoEnv)
  .merge(redisEnv)
  .merge(amqpEnv)
  .merge(internalEnv)
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
    /** Internal message service base URL (direct conversations). */
    MESSAGE_URL: z.string().url().default("http://127.0.0.1:4002"),
    /** Unacknowledged AutoMessages one worker holds at a time. */
    WORKER_PREFETCH: positiveInt(20),
  });

export type AutoMessageSettings = z.infer<typeof automessageEnv>;
export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;
export type WorkerConfig = z.infer<typeof workerConfigSchema>;
