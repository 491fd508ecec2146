import { loadConfig, runMain } from "@chat/shared";
import { gatewayConfigSchema } from "./config.ts";
import { startGateway } from "./gateway-service.ts";

await runMain(() => startGateway(loadConfig("gateway", gatewayConfigSchema)));
