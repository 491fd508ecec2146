import { loadConfig, runMain } from "@chat/shared";
import { messageConfigSchema } from "./config.ts";
import { startMessageService } from "./message-service.ts";

await runMain(() => startMessageService(loadConfig("message", messageConfigSchema)));
