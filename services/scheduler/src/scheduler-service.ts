import express from "express";
import { createAmqp, createMongo, createRedis, runService, type Logger, type RunningService } from "@chat/shared";
import { createAdminRoutes } from "./admin/admin-routes.ts";
import { registerAutoMessageMetrics } from "./automessages/automessage-metrics.ts";
import type { SchedulerConfig } from "./config.ts";
import { createSchedulerCore } from "./jobs/scheduler-core.ts";
import { createOpsConsole } from "./ops/ops-console.ts";

export interface RoleOptions {
  handleSignals?: boolean;
  logger?: Logger;
}

/**
 * The scheduler role: redlock-guarded cron jobs (planner, queue job), their admin endpoints,
 * and the operator console (`/ops/`, its JSON under `/ops/api/`).
 */
export function startScheduler(config: SchedulerConfig, options: RoleOptions = {}): Promise<RunningService> {
  return runService(
    "scheduler",
    config,
    config.PORT,
    async ({ logger, app, registry }) => {
      const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
      const redis = await createRedis({ url: config.REDIS_URL, logger, connectionName: "scheduler" });
      const amqp = await createAmqp({ url: config.AMQP_URL, logger });
      const { deps, runner } = await createSchedulerCore(config, { mongo, redis, amqp }, logger, config.SCHEDULER_REPLICA_ID);
      if (config.SCHEDULER_CRON_ENABLED) runner.start();
      registerAutoMessageMetrics(registry, { store: deps.store, amqp, queues: deps.queues, logger });

      app.use("/admin", express.json({ limit: "4kb" }), createAdminRoutes({ adminToken: config.ADMIN_API_TOKEN, runner, deps }));
      const ops = createOpsConsole({ config, deps, logger });
      app.use("/ops/api", ops.api);
      app.use("/ops", ops.page);
      return {
        dependencies: [mongo, redis, amqp],
        shutdown: [
          { name: "stop jobs", run: () => runner.stop() },
          { name: "close ops console", run: () => ops.close() },
        ],
      };
    },
    options,
  );
}
