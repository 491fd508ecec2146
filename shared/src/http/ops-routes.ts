import type { Express, Request, Response } from "express";
import type { Registry } from "prom-client";
import type { Dependency } from "../clients/dependency.ts";

export interface OpsRoutesOptions {
  /** What `/readyz` checks; each must answer for the process to be ready. */
  dependencies: Dependency[];
  registry: Registry;
  /** Extra readiness condition (e.g. "consumer has joined its group"). */
  isReady?: () => boolean;
  /** Set while shutting down so load balancers stop routing here before sockets close. */
  isDraining?: () => boolean;
}

/** Gives a process `/healthz` (alive), `/readyz` (dependencies answer) and `/metrics`. */
export function mountOpsRoutes(app: Express, { dependencies, registry, isReady, isDraining }: OpsRoutesOptions): void {
  app.get("/healthz", (_req: Request, res: Response) => {
    res.json({ status: "ok" });
  });

  app.get("/readyz", async (_req: Request, res: Response) => {
    const results = await Promise.all(
      dependencies.map(async (dep) => {
        try {
          await dep.check();
          return [dep.name, "ok"] as const;
        } catch (err) {
          return [dep.name, (err as Error).message || "failed"] as const;
        }
      }),
    );
    const checks: Record<string, string> = Object.fromEntries(results);
    if (isReady && !isReady()) checks.self = "starting";
    if (isDraining?.()) checks.self = "draining";
    const ready = Object.values(checks).every((v) => v === "ok");
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not_ready", checks });
  });

  app.get("/metrics", async (_req: Request, res: Response) => {
    res.setHeader("Content-Type", registry.contentType);
    res.send(await registry.metrics());
  });
}
