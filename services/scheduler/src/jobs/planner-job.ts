import type { Job } from "./job.ts";
import type { SchedulerDeps } from "./scheduler-deps.ts";
import { planAutoMessages, planIdFor } from "../automessages/planner.ts";

/** Nightly: pair active users and plan tomorrow's AutoMessages. */
export const plannerJob = (cron: string): Job<SchedulerDeps> => ({
  name: "automessage-planner",
  cron,
  lockTtlMs: 60_000,
  run: (deps) =>
    planAutoMessages(deps.db, deps.store, deps.activeUsers, {
      planId: planIdFor(new Date(), deps.settings.SCHEDULER_TIMEZONE),
      contents: deps.settings.AUTOMESSAGE_CONTENTS,
      sendWithinMs: deps.settings.PLAN_SEND_WITHIN,
    }),
});
