import { loadConfig, runMain } from "@chat/shared";
import { authConfigSchema } from "./config.ts";
import { startAuthService } from "./auth-service.ts";

await runMain(() => startAuthService(loadConfig("auth", authConfigSchema)));
