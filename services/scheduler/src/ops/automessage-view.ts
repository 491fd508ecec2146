import { DependencyError } from "@chat/shared";
import { autoMessageStats } from "../automessages/commands.ts";
import type { SchedulerDeps } from "../jobs/scheduler-deps.ts";
import type { AutoMessagesView } from "./ops-types.ts";

/** AutoMessages per night (plan) and in total, with the depth of the main, delay and dead-letter queues. */
export async function autoMessagesView(deps: Pick<SchedulerDeps, "db" | "store" | "amqp" | "queues">): Promise<AutoMessagesView> {
  try {
    const [plans, stats] = await Promise.all([deps.store.planCounts(), autoMessageStats(deps.store, deps.amqp, deps.queues)]);
    const { queues, ...totals } = stats;
    return {
      plans,
      totals,
      queues: { main: queues[deps.queues.main] ?? 0, retrying: queues.retrying ?? 0, dlq: queues[deps.queues.dlq] ?? 0 },
    };
  } catch (err) {
    throw new DependencyError("AutoMessage counters or queues unreadable", err);
  }
}
