import { timingSafeEqual } from "node:crypto";
import { Router, type RequestHandler } from "express";
import { UnauthorizedError, bearerToken, validate } from "@chat/shared";
import { z } from "@chat/shared/contracts";
import type { AmqpDependency } from "@chat/shared";
import type { AutoMessageStore } from "../automessages/automessage-store.ts";
import type { AutoMessageQueues } from "../automessages/topology.ts";
import type { JobRunner } from "../jobs/job-runner.ts";
import { planAutoMessages } from "../automessages/planner.ts";
import { parseDuration } from "../automessages/duration.ts";
import type { SchedulerDeps } from "../jobs/scheduler-deps.ts";

const planRequestSchema = z
  .object({
    sendWithin: z.string().refine((v) => parseDuration(v) !== undefined, "a duration like 90s, 15m, 24h").optional(),
    planId: z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/).optional(),
  })
  .strict();

function requireAdmin(token: string): RequestHandler {
  const want = Buffer.from(token);
  return (req, _res, next) => {
    const got = Buffer.from(bearerToken(req.get("authorization")) ?? "");
    if (got.length !== want.length || !timingSafeEqual(got, want)) next(new UnauthorizedError("Admin token required", "ADMIN_TOKEN_INVALID"));
    else next();
  };
}

/** Queue depths next to the document counts: what an operator needs to see the pipeline. */
export async function autoMessageStats(store: AutoMessageStore, amqp: AmqpDependency, queues: AutoMessageQueues) {
  const channel = amqp.channel();
  const depth = async (q: string) => (await channel.checkQueue(q)).messageCount;
  const [documents, main, dlq, retrying] = await Promise.all([
    store.stats(),
    depth(queues.main),
    depth(queues.dlq),
    Promise.all(queues.retry.map(depth)).then((d) => d.reduce((a, b) => a + b, 0)),
  ]);
  return { ...documents, queues: { [queues.main]: main, retrying, [queues.dlq]: dlq } };
}

/** `/admin/automessages/*`: the operators' plan / queue / stats, behind the admin token. */
export function createAdminRoutes({ adminToken, runner, deps }: { adminToken: string; runner: JobRunner; deps: SchedulerDeps }): Router {
  const router = Router();
  router.use(requireAdmin(adminToken));

  router.post("/automessages/plan", async (req, res) => {
    const input = validate(planRequestSchema, req.body ?? {});
    // The nightly job's plan id is the date; an on-demand plan with another window gets its own.
    const result = input.sendWithin || input.planId
      ? await planAutoMessages(deps.db, deps.store, deps.activeUsers, {
          planId: input.planId ?? `manual-${new Date().toISOString()}`,
          contents: deps.settings.AUTOMESSAGE_CONTENTS,
          sendWithinMs: input.sendWithin ? parseDuration(input.sendWithin)! : deps.settings.PLAN_SEND_WITHIN,
        })
      : await runner.runNow("automessage-planner");
    res.json({ result });
  });

  router.post("/automessages/queue", async (_req, res) => {
    res.json({ result: await runner.runNow("automessage-queue") });
  });

  router.get("/automessages/stats", async (_req, res) => {
    res.json(await autoMessageStats(deps.store, deps.amqp, deps.queues));
  });

  return router;
}

