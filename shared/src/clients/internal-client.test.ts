import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "../contracts/zod.ts";
import { internalRoute } from "../contracts/internal/route.ts";
import { AppError } from "../errors.ts";
import { createInternalClient } from "./internal-client.ts";

const echo = internalRoute({
  method: "POST",
  path: "/internal/things/:id",
  body: z.object({ n: z.number() }),
  query: z.object({ mode: z.string().optional() }),
  response: z.object({ id: z.string(), n: z.number(), mode: z.string().nullable(), token: z.string() }),
});
const lookup = internalRoute({ method: "GET", path: "/internal/answer/:status", body: undefined, query: undefined, response: z.object({ ok: z.literal(true) }) });

describe("internal client", () => {
  let server: Server;
  let baseUrl: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url!, "http://x");
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c));
      req.on("end", () => {
        const status = /^\/internal\/answer\/(\w+)/.exec(url.pathname)?.[1];
        res.setHeader("content-type", "application/json");
        if (status === "off") return res.end(JSON.stringify({ ok: "yes" }));
        if (status) {
          res.statusCode = Number(status);
          return res.end(status.startsWith("4") ? JSON.stringify({ error: { code: "THING_NOT_FOUND", message: "No such thing", details: { id: 1 } } }) : "oops");
        }
        const body = JSON.parse(raw) as { n: number };
        res.end(JSON.stringify({ id: decodeURIComponent(url.pathname.split("/").pop()!), n: body.n, mode: url.searchParams.get("mode"), token: req.headers["x-internal-token"] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("sends the token, the body, the query and encoded parameters, and parses the answer", async () => {
    const client = createInternalClient({ service: "Thing service", baseUrl, internalToken: "secret-token" });
    expect(await client.call(echo, { params: { id: "a/b c" }, body: { n: 3 }, query: { mode: "x" } })).toEqual({ id: "a/b c", n: 3, mode: "x", token: "secret-token" });
  });

  it("turns a refusal into the callee's own error, and failures into a retriable DependencyError", async () => {
    const client = createInternalClient({ service: "Thing service", baseUrl, internalToken: "t" });
    const refused = await client.call(lookup, { params: { status: "404" } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: "THING_NOT_FOUND", message: "No such thing", status: 404, retriable: false, details: { id: 1 } });
    await expect(client.call(lookup, { params: { status: "500" } })).rejects.toMatchObject({ code: "DEPENDENCY_UNAVAILABLE", retriable: true });
    await expect(client.call(lookup, { params: { status: "off" } })).rejects.toMatchObject({ code: "DEPENDENCY_UNAVAILABLE", message: expect.stringContaining("outside its contract") });
    const down = createInternalClient({ service: "Gone service", baseUrl: "http://127.0.0.1:1", internalToken: "t", timeoutMs: 1000 });
    await expect(down.call(lookup, { params: { status: "200" } })).rejects.toMatchObject({ code: "DEPENDENCY_UNAVAILABLE", message: "Gone service unavailable" });
  });
});
