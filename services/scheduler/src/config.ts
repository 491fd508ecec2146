import type { z } from "zod";
import { amqpEnv, baseEnv, kafkaEnv, mongoEnv, port, redisEnv } from "@chat/shared";

export const schedulerConfigSchema = baseEnv.merge(mongoEnv).merge(redisEnv).merge(amqpEnv).extend({
  /** HTTP port of the scheduler role (ops + admin endpoints). */
  PORT: port(4003),
});

export const workerConfigSchema = baseEnv.merge(mongoEnv).merge(kafkaEnv).merge(amqpEnv).extend({
  /** HTTP port of the worker role (ops endpoints). */
  PORT: port(4004),
});

export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;
export type WorkerConfig = z.infer<typeof workerConfigSchema>;
