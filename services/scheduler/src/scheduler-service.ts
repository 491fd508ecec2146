import express from "express";
import { createAmqp, createMongo, createRedis, runService, type Logger, type RunningService } from "@chat/shared";
import { createAdminRoutes } from "./admin/admin-routes.ts";
import { createAutoMessageStore } from "./automessages/automessage-store.ts";
import { autoMessageQueues, declareAutoMessageTopology } from "./automessages/topology.ts";
import type { SchedulerConfig } from "./config.ts";
import { createJobRunner } from "./jobs/job-runner.ts";
import { plannerJob } from "./jobs/planner-job.ts";
import { queueJob } from "./jobs/queue-job.ts";
import type { SchedulerDeps } from "./jobs/scheduler-deps.ts";

export interface RoleOptions {
  handleSignals?: boolean;
  logger?: Logger;
}

/** The scheduler role: redlock-guarded cron jobs (planner, queue job) and their admin endpoints. */
export function startScheduler(config: SchedulerConfig, options: RoleOptions = {}): Promise<RunningService> {
  return runService(
    "scheduler",
    config,
    config.PORT,
    async ({ logger, app }) => {
      const mongo = await createMongo({ url: config.MONGO_URL, dbName: config.MONGO_DB, logger });
      const redis = await createRedis({ url: config.REDIS_URL, logger, connectionName: "scheduler" });
      const amqp = await createAmqp({ url: config.AMQP_URL, logger });
      const store = createAutoMessageStore(mongo.db);
      await store.ensureIndexes();
      const queues = autoMessageQueues(config.AMQP_QUEUE_PREFIX, config.AUTOMESSAGE_MAX_ATTEMPTS, config.AUTOMESSAGE_RETRY_BASE);
      await amqp.onConnect((channel) => declareAutoMessageTopology(channel, queues, config.AUTOMESSAGE_RETRY_BASE));

      const deps: SchedulerDeps = { db: mongo.db, store, amqp, queues, settings: config };
      const runner = createJobRunner({
        jobs: [plannerJob(config.PLANNER_CRON), queueJob(config.QUEUE_CRON)],
        deps,
        redis: redis.redis,
        db: mongo.db,
        prefix: config.REDIS_PREFIX,
        timezone: config.SCHEDULER_TIMEZONE,
        replicaId: config.SCHEDULER_REPLICA_ID,
        logger,
      });
      if (config.SCHEDULER_CRON_ENABLED) runner.start();

      app.use("/admin", express.json({ limit: "4kb" }), createAdminRoutes({ adminToken: config.ADMIN_API_TOKEN, runner, deps }));
      return {
        dependencies: [mongo, redis, amqp],
        shutdown: [{ name: "stop jobs", run: () => runner.stop() }],
      };
    },
    options,
  );
}
