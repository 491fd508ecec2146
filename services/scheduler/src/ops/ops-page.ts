import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Router, type Response } from "express";
import type { Logger } from "@chat/shared";

const WEB_DIR = fileURLToPath(new URL("../../ops-web/", import.meta.url));

/**
 * The console page, as the gateway serves its web client: `index.html`, `app.css`, and
 * `app.js` bundled from `ops-web/app.ts` by esbuild on first request (kept in memory). No
 * token needed for these: the page holds no data until the API accepts the admin token.
 */
export function createOpsPage(logger: Logger): Router {
  let bundle: Promise<string> | undefined;
  const bundled = () =>
    (bundle ??= build({
      entryPoints: [`${WEB_DIR}app.ts`],
      bundle: true,
      minify: true,
      format: "esm",
      target: "es2022",
      write: false,
      logLevel: "silent",
    })
      .then((r) => r.outputFiles[0]!.text)
      .catch((err: unknown) => {
        bundle = undefined;
        logger.error({ err }, "ops console bundle failed");
        throw err;
      }));

  const send = (res: Response, type: string, body: string) => {
    res.type(type).setHeader("Cache-Control", "no-cache");
    res.send(body);
  };
  const router = Router({ strict: true });
  router.get("/", async (req, res) => {
    // Relative asset URLs need the trailing slash.
    if (!req.originalUrl.split("?")[0]!.endsWith("/")) return res.redirect(301, `${req.baseUrl}/`);
    send(res, "html", await readFile(`${WEB_DIR}index.html`, "utf8"));
  });
  router.get("/app.css", async (_req, res) => send(res, "css", await readFile(`${WEB_DIR}app.css`, "utf8")));
  router.get("/app.js", async (_req, res) => send(res, "js", await bundled()));
  return router;
}
