import { fileURLToPath } from "node:url";
import type { Express } from "express";
import type { Logger } from "@chat/shared";
import { webPage } from "@chat/shared/web-page";

/** Serves the web client (`web/`) at `/`: the page, its stylesheet and its bundled script. */
export function mountWebClient(app: Express, logger: Logger): void {
  app.use("/", webPage({ dir: fileURLToPath(new URL("../../web/", import.meta.url)), name: "web client", logger }));
}
