import { createAmqp, createMongo, createRedis, runService, type Logger, type RunningService } from "@chat/shared";
import type { SchedulerConfig } from "./config.ts";

export interface RoleOptions {
  handleSignals?: boolean;
  logger?: Logger;
}

/** The scheduler role: redlock-guarded cron jobs (planner, queue job). */
export function startScheduler(config: SchedulerConfig, options: RoleOptions = {}): Promise<RunningService> {
  return runService(
    "scheduler",
    config,
    config.PORT,
    async ({ logger }) => {
      const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
      const redis = await createRedis({ url: config.REDIS_URL, logger, connectionName: "scheduler" });
      const amqp = await createAmqp({ url: config.AMQP_URL, logger });
      return { dependencies: [mongo, redis, amqp] };
    },
    options,
  );
}
