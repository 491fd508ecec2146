import { loadConfig, runMain } from "@chat/shared";
import { schedulerConfigSchema } from "./config.ts";
import { startScheduler } from "./scheduler-service.ts";

await runMain(() => startScheduler(loadConfig("scheduler", schedulerConfigSchema)));
