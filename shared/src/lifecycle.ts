import type { Logger } from "./logger.ts";

export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

/**
 * Runs shutdown steps in order on SIGTERM/SIGINT (stop accepting, drain, stop consumers,
 * flush producers, close databases), each failure logged and skipped; exits 0 when all
 * ran, 1 when the whole thing exceeded `timeoutMs`.
 */
export function registerShutdown(logger: Logger, timeoutMs: number, steps: () => ShutdownStep[]): () => Promise<void> {
  let running: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    running ??= (async () => {
      const timer = setTimeout(() => {
        logger.error({ timeoutMs }, "shutdown timed out, exiting");
        process.exit(1);
      }, timeoutMs);
      timer.unref();
      for (const step of steps()) {
        const started = Date.now();
        try {
          await step.run();
          logger.debug({ step: step.name, ms: Date.now() - started }, "shutdown step done");
        } catch (err) {
          logger.warn({ step: step.name, err }, "shutdown step failed");
        }
      }
      logger.info("shutdown complete");
    })();
    return running;
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      logger.info({ signal }, "shutting down");
      void shutdown().then(() => process.exit(0));
    });
  }
  return shutdown;
}

/**
 * The body of every `main.ts`: start, or print why not (config problems listed one per
 * line, anything else as a structured fatal log line) and exit 1.
 */
export async function runMain(start: () => Promise<unknown>): Promise<void> {
  try {
    await start();
  } catch (err) {
    if (err instanceof Error && err.name === "ConfigError") {
      console.error(err.message);
    } else {
      console.error(JSON.stringify({ level: 60, msg: "failed to start", err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }));
    }
    process.exit(1);
  }
}
