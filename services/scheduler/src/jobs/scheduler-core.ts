import type { AmqpDependency, Logger, MongoDependency, RedisDependency } from "@chat/shared";
import { activeUsersFromAuth } from "../automessages/active-users.ts";
import { createAutoMessageStore } from "../automessages/automessage-store.ts";
import { autoMessageQueues, declareAutoMessageTopology } from "../automessages/topology.ts";
import type { SchedulerConfig } from "../config.ts";
import { createJobRunner, type JobRunner } from "./job-runner.ts";
import { plannerJob } from "./planner-job.ts";
import { queueJob } from "./queue-job.ts";
import type { SchedulerDeps } from "./scheduler-deps.ts";

export type SchedulerCoreConfig = Omit<SchedulerConfig, "ADMIN_API_TOKEN" | "PORT">;

/**
 * What the scheduler process and the operators' CLI share: the AutoMessage store and queues,
 * and the job runner with its jobs (so a CLI run takes the same locks as the scheduler).
 */
export async function createSchedulerCore(
  config: SchedulerCoreConfig,
  clients: { mongo: MongoDependency; redis: RedisDependency; amqp: AmqpDependency },
  logger: Logger,
  replicaId: string,
): Promise<{ deps: SchedulerDeps; runner: JobRunner }> {
  const store = createAutoMessageStore(clients.mongo.db);
  await store.ensureIndexes();
  // AutoMessages stored in the old shape (no buckets / counters): keyed once, at start.
  const migrated = await store.migrateKeys();
  if (migrated > 0) logger.info({ migrated }, "AutoMessages migrated to keyed buckets");
  const queues = autoMessageQueues(config.AMQP_QUEUE_PREFIX, config.AUTOMESSAGE_MAX_ATTEMPTS, config.AUTOMESSAGE_RETRY_BASE);
  await clients.amqp.onConnect((channel) => declareAutoMessageTopology(channel, queues, config.AUTOMESSAGE_RETRY_BASE));
  const activeUsers = activeUsersFromAuth({ baseUrl: config.AUTH_URL, internalToken: config.INTERNAL_API_TOKEN });
  const deps: SchedulerDeps = { db: clients.mongo.db, store, activeUsers, amqp: clients.amqp, queues, settings: config };
  const runner = createJobRunner({
    jobs: [plannerJob(config.PLANNER_CRON), queueJob(config.QUEUE_CRON)],
    deps,
    redis: clients.redis.redis,
    db: clients.mongo.db,
    prefix: config.REDIS_PREFIX,
    timezone: config.SCHEDULER_TIMEZONE,
    replicaId,
    logger,
  });
  return { deps, runner };
}
