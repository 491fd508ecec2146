import { DependencyError } from "@chat/shared";
import { totalOf } from "../automessages/automessage-store.ts";
import { queueDepths } from "../automessages/commands.ts";
import type { SchedulerDeps } from "../jobs/scheduler-deps.ts";
import type { AutoMessagesView } from "./ops-types.ts";

/** AutoMessages per night (plan) and in total, with the depth of the main, delay and dead-letter queues. */
export async function autoMessagesView(deps: Pick<SchedulerDeps, "db" | "store" | "amqp" | "queues">): Promise<AutoMessagesView> {
  try {
    const [plans, queues] = await Promise.all([deps.store.planCounts(), queueDepths(deps.amqp, deps.queues)]);
    return { plans, totals: totalOf(plans), queues };
  } catch (err) {
    throw new DependencyError("AutoMessage counters or queues unreadable", err);
  }
}
