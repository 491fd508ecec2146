import { fileURLToPath } from "node:url";
import type { Router } from "express";
import type { Logger } from "@chat/shared";
import { webPage } from "@chat/shared/web-page";

/**
 * The console page (`ops-web/`), served like the gateway's web client. No token needed for
 * these files: the page holds no data until the API accepts the admin token.
 */
export function createOpsPage(logger: Logger): Router {
  return webPage({ dir: fileURLToPath(new URL("../../ops-web/", import.meta.url)), name: "ops console", logger });
}
