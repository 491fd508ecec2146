import type { Job } from "./job.ts";
import type { SchedulerDeps } from "./scheduler-deps.ts";
import { queueDueAutoMessages } from "../automessages/queue-due.ts";

/** Every minute: publish the AutoMessages that are due to RabbitMQ. */
export const queueJob = (cron: string): Job<SchedulerDeps> => ({
  name: "automessage-queue",
  cron,
  lockTtlMs: 30_000,
  run: (deps) =>
    queueDueAutoMessages(deps.store, deps.amqp.channel(), {
      queue: deps.queues.main,
      batchSize: deps.settings.QUEUE_BATCH_SIZE,
      requeueAfterMs: deps.settings.REQUEUE_AFTER,
    }),
});
