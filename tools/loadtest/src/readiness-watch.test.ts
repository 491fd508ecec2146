import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { watchReadiness } from "./readiness-watch.ts";

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A process whose `/readyz` answers from `answers` in turn ("slow": never within the limit), then 200. */
async function serve(answers: Array<number | "slow">): Promise<string> {
  let i = 0;
  server = createServer((req, res) => {
    const answer = req.url === "/readyz" ? (answers[i++] ?? 200) : 404;
    if (answer === "slow") setTimeout(() => res.end("{}"), 300);
    else res.writeHead(answer).end("{}");
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

describe("watchReadiness", () => {
  it("counts every answer's time and each answer other than 200, a timeout included", async () => {
    const url = await serve([200, 503, "slow", 503]);
    const watch = watchReadiness([url], { intervalMs: 5, timeoutMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const [figures] = await watch.stop();
    expect(figures!.url).toBe(url);
    expect(figures!.notReady).toEqual({ "503": 2, timeout: 1 });
    expect(figures!.latencyMs.count).toBeGreaterThan(4);
    expect(figures!.latencyMs.max).toBe(100);
  });

  it("refuses a target off this machine", () => {
    expect(() => watchReadiness(["http://10.0.0.1:3000"])).toThrow(/only loopback/);
  });
});
