import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Express, Response } from "express";
import type { Logger } from "@chat/shared";

const WEB_DIR = fileURLToPath(new URL("../../web/", import.meta.url));

/**
 * Serves the web client at `/`: the page, its stylesheet, and `app.js` bundled from
 * `web/app.ts` by esbuild on first request (one bundle per gateway process, kept in memory).
 */
export function mountWebClient(app: Express, logger: Logger): void {
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
        logger.error({ err }, "web client bundle failed");
        throw err;
      }));

  const file = (name: string, type: string) => async (_req: unknown, res: Response) => {
    res.type(type).setHeader("Cache-Control", "no-cache");
    res.send(await readFile(`${WEB_DIR}${name}`, "utf8"));
  };
  app.get("/", file("index.html", "html"));
  app.get("/app.css", file("app.css", "css"));
  app.get("/app.js", async (_req, res) => {
    res.type("js").setHeader("Cache-Control", "no-cache");
    res.send(await bundled());
  });
}
