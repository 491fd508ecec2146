import { Router } from "express";
import { validate } from "@chat/shared";
import { z } from "@chat/shared/contracts";
import { autoMessageCommands } from "../automessages/commands.ts";
import { requireAdmin } from "./require-admin.ts";
import type { JobRunner } from "../jobs/job-runner.ts";
import { parseDuration } from "../automessages/duration.ts";
import type { SchedulerDeps } from "../jobs/scheduler-deps.ts";

const planRequestSchema = z
  .object({
    sendWithin: z.string().refine((v) => parseDuration(v) !== undefined, "a duration like 90s, 15m, 24h").optional(),
    planId: z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/).optional(),
  })
  .strict();

/** `/admin/automessages/*`: the operators' plan / queue / stats, behind the admin token. */
export function createAdminRoutes({ adminToken, runner, deps }: { adminToken: string; runner: JobRunner; deps: SchedulerDeps }): Router {
  const router = Router();
  router.use(requireAdmin(adminToken));
  const commands = autoMessageCommands(deps, runner);

  router.post("/automessages/plan", async (req, res) => {
    const input = validate(planRequestSchema, req.body ?? {});
    res.json({ result: await commands.plan({ planId: input.planId, sendWithinMs: input.sendWithin ? parseDuration(input.sendWithin) : undefined }) });
  });

  router.post("/automessages/queue", async (_req, res) => {
    res.json({ result: await commands.queue() });
  });

  router.get("/automessages/stats", async (_req, res) => {
    res.json(await commands.stats());
  });

  return router;
}

