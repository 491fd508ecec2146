import { readFile } from "node:fs/promises";
import { build } from "esbuild";
import { Router, type Response } from "express";
import type { Logger } from "../logger.ts";

// Imported as `@chat/shared/web-page`, not from the package root: only processes that serve a
// page load esbuild.

/**
 * A plain web page as the cluster serves them (the gateway's chat client, the scheduler's
 * operator console): `index.html`, `app.css`, and `app.js` bundled from `app.ts` by esbuild on
 * first request (once per process, kept in memory), from the folder `dir` (ending in `/`).
 */
export function webPage({ dir, name, logger }: { dir: string; name: string; logger: Logger }): Router {
  let bundle: Promise<string> | undefined;
  const bundled = () =>
    (bundle ??= build({ entryPoints: [`${dir}app.ts`], bundle: true, minify: true, format: "esm", target: "es2022", write: false, logLevel: "silent" })
      .then((r) => r.outputFiles[0]!.text)
      .catch((err: unknown) => {
        bundle = undefined;
        logger.error({ err }, `${name} bundle failed`);
        throw err;
      }));

  const send = (res: Response, type: string, body: string) => {
    res.type(type).setHeader("Cache-Control", "no-cache");
    res.send(body);
  };
  const router = Router({ strict: true });
  router.get("/", async (req, res) => {
    // Mounted under a path, the page's relative asset URLs need the trailing slash.
    if (!req.originalUrl.split("?")[0]!.endsWith("/")) return res.redirect(301, `${req.baseUrl}/`);
    send(res, "html", await readFile(`${dir}index.html`, "utf8"));
  });
  router.get("/app.css", async (_req, res) => send(res, "css", await readFile(`${dir}app.css`, "utf8")));
  router.get("/app.js", async (_req, res) => send(res, "js", await bundled()));
  return router;
}
