import express, { type Express } from "express";
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import type { Dependency, ReadinessCheck } from "./clients/dependency.ts";
import { errorHandler, notFoundHandler } from "./http/error-handler.ts";
import { listen, type Listening } from "./http/listen.ts";
import { createMetricsRegistry } from "./http/metrics.ts";
import { mountOpsRoutes } from "./http/ops-routes.ts";
import { registerShutdown, type ShutdownStep } from "./lifecycle.ts";
import { createLogger, type Logger } from "./logger.ts";

export interface ServiceSettings {
  LOG_LEVEL: string;
  HTTP_HOST: string;
  SHUTDOWN_TIMEOUT_MS: number;
  TRUST_PROXY: string;
}

export interface ServiceContext {
  logger: Logger;
  registry: Registry;
  /** The express app, with `/healthz`, `/readyz`, `/metrics` already mounted. */
  app: Express;
  /** The HTTP server the app will listen on (Socket.IO attaches here). */
  server: Server;
  isDraining: () => boolean;
}

export interface ServiceParts {
  /** Checked by `/readyz`; closed last, in reverse order, at shutdown. */
  dependencies: Dependency[];
  /** Readiness beyond dependencies: consumers in their groups, producers reaching Kafka. */
  checks?: ReadinessCheck[];
  /** Features the process serves without being needed for its job (search): shown by `/readyz`, never failing it. */
  optional?: ReadinessCheck[];
  /** Ordered steps between "stop accepting" and "close dependencies" (drain, stop consumers, flush). */
  shutdown?: ShutdownStep[];
}

export interface RunningService {
  port: number;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * Wires a process the same way everywhere: logger, metrics, ops routes, error mapping,
 * listen, ordered shutdown on SIGTERM. `build` connects dependencies and adds routes.
 */
export async function runService(
  name: string,
  settings: ServiceSettings,
  port: number,
  build: (ctx: ServiceContext) => Promise<ServiceParts>,
  options: { handleSignals?: boolean; logger?: Logger } = {},
): Promise<RunningService> {
  const logger = options.logger ?? createLogger({ name, level: settings.LOG_LEVEL });
  const registry = createMetricsRegistry(name);
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", settings.TRUST_PROXY);
  let draining = false;
  const isDraining = () => draining;
  const server = createServer(app);

  // Until `build` returns, /readyz has nothing to check and answers "starting".
  const checks: ReadinessCheck[] = [];
  const optional: ReadinessCheck[] = [];
  mountOpsRoutes(app, { checks: () => checks, optional: () => optional, registry, isDraining });

  const parts = await build({ logger, registry, app, server, isDraining });
  checks.push(...parts.dependencies, ...(parts.checks ?? []));
  optional.push(...(parts.optional ?? []));
  app.use(notFoundHandler);
  app.use(errorHandler(logger));

  const listening: Listening = await listen(undefined, port, settings.HTTP_HOST, server);
  logger.info({ host: settings.HTTP_HOST, port: listening.port }, "listening");

  const steps = (): ShutdownStep[] => [
    { name: "mark draining", run: async () => void (draining = true) },
    ...(parts.shutdown ?? []),
    { name: "close http server", run: () => listening.close() },
    ...[...parts.dependencies].reverse().map((dep) => ({ name: `close ${dep.name}`, run: () => dep.close() })),
  ];

  let stopPromise: Promise<void> | undefined;
  const stopDirect = async () => {
    for (const step of steps()) {
      try {
        await step.run();
      } catch (err) {
        logger.warn({ step: step.name, err }, "shutdown step failed");
      }
    }
  };
  const stop =
    options.handleSignals === false
      ? () => (stopPromise ??= stopDirect())
      : registerShutdown(logger, settings.SHUTDOWN_TIMEOUT_MS, steps);

  return { port: listening.port, logger, stop };
}
