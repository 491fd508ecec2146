import type { AmqpDependency } from "@chat/shared";
import type { JobRunner } from "../jobs/job-runner.ts";
import type { SchedulerDeps } from "../jobs/scheduler-deps.ts";
import type { AutoMessageStore } from "./automessage-store.ts";
import { planAutoMessages } from "./planner.ts";
import type { AutoMessageQueues } from "./topology.ts";

export interface PlanCommand {
  /** A plan of its own (run now, once per id). Without it and `sendWithinMs`: tonight's plan, as the nightly job runs it. */
  planId?: string;
  sendWithinMs?: number;
}

/** Ready messages in the AutoMessage queues: the main one, all delay queues together, the DLQ. */
export async function queueDepths(amqp: AmqpDependency, queues: AutoMessageQueues): Promise<{ main: number; retrying: number; dlq: number }> {
  const channel = amqp.channel();
  const depth = async (q: string) => (await channel.checkQueue(q)).messageCount;
  const [main, dlq, retrying] = await Promise.all([depth(queues.main), depth(queues.dlq), Promise.all(queues.retry.map(depth)).then((d) => d.reduce((a, b) => a + b, 0))]);
  return { main, retrying, dlq };
}

/** Queue depths next to the document counts: what an operator needs to see the pipeline. */
export async function autoMessageStats(store: AutoMessageStore, amqp: AmqpDependency, queues: AutoMessageQueues) {
  const [documents, depths] = await Promise.all([store.stats(), queueDepths(amqp, queues)]);
  return { ...documents, queues: { [queues.main]: depths.main, retrying: depths.retrying, [queues.dlq]: depths.dlq } };
}

/**
 * The operators' AutoMessage commands — plan, queue, stats — in one place, for the admin routes
 * and the CLI alike. Plan and queue go through the job runner, so they take the same locks as
 * the scheduler's own ticks.
 */
export function autoMessageCommands(deps: SchedulerDeps, runner: JobRunner) {
  return {
    plan({ planId, sendWithinMs }: PlanCommand = {}): Promise<unknown> {
      // The nightly job's plan id is the date; an on-demand plan with another window gets its own.
      if (planId === undefined && sendWithinMs === undefined) return runner.runNow("automessage-planner");
      return planAutoMessages(deps.db, deps.store, deps.activeUsers, {
        planId: planId ?? `manual-${new Date().toISOString()}`,
        contents: deps.settings.AUTOMESSAGE_CONTENTS,
        sendWithinMs: sendWithinMs ?? deps.settings.PLAN_SEND_WITHIN,
      });
    },
    queue: (): Promise<unknown> => runner.runNow("automessage-queue"),
    stats: () => autoMessageStats(deps.store, deps.amqp, deps.queues),
  };
}

export type AutoMessageCommands = ReturnType<typeof autoMessageCommands>;
