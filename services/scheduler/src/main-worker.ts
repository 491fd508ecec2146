import { loadConfig, runMain } from "@chat/shared";
import { workerConfigSchema } from "./config.ts";
import { startWorker } from "./worker-service.ts";

await runMain(() => startWorker(loadConfig("worker", workerConfigSchema)));
