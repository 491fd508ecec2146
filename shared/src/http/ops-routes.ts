import type { Express, Request, Response } from "express";
import type { Registry } from "prom-client";
import type { ReadinessCheck } from "../clients/dependency.ts";

export interface OpsRoutesOptions {
  /** What `/readyz` checks: dependencies, consumers in their groups, producers. Each must pass. */
  checks: () => ReadinessCheck[];
  /** Shown by `/readyz` under `degraded` when failing, without making it fail. */
  optional?: () => ReadinessCheck[];
  registry: Registry;
  /** Set while shutting down so load balancers stop routing here before sockets close. */
  isDraining?: () => boolean;
}

/** Gives a process `/healthz` (alive), `/readyz` (dependencies answer) and `/metrics`. */
export function mountOpsRoutes(app: Express, { checks, optional = () => [], registry, isDraining }: OpsRoutesOptions): void {
  // Alive as long as the event loop answers: everything this process depends on is retried
  // or rebuilt in-process, so restarting it would not help; /readyz says what is missing.
  app.get("/healthz", (_req: Request, res: Response) => {
    res.json({ status: "ok" });
  });

  const run = (list: ReadinessCheck[]) =>
    Promise.all(
      list.map(async (dep) => {
        try {
          await dep.check();
          return [dep.name, "ok"] as const;
        } catch (err) {
          return [dep.name, (err as Error).message || "failed"] as const;
        }
      }),
    );

  app.get("/readyz", async (_req: Request, res: Response) => {
    const [results, extras] = await Promise.all([run(checks()), run(optional())]);
    const outcome: Record<string, string> = Object.fromEntries(results);
    if (results.length === 0) outcome.self = "starting";
    if (isDraining?.()) outcome.self = "draining";
    const ready = Object.values(outcome).every((v) => v === "ok");
    const degraded = Object.fromEntries(extras.filter(([, v]) => v !== "ok"));
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : "not_ready",
      checks: outcome,
      ...(Object.keys(degraded).length > 0 ? { degraded } : {}),
    });
  });

  app.get("/metrics", async (_req: Request, res: Response) => {
    res.setHeader("Content-Type", registry.contentType);
    res.send(await registry.metrics());
  });
}
