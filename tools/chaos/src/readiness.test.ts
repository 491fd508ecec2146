import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@chat/shared/testing";
import { describeNotReady, readinessWatcher } from "./readiness.ts";

describe("the readiness watcher", () => {
  const servers: Array<ReturnType<typeof createServer>> = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  async function fakeProcess(): Promise<{ url: string; setStatus(status: number): void }> {
    let status = 200;
    const server = createServer((_req, res) => {
      res.writeHead(status);
      res.end();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, setStatus: (s) => (status = s) };
  }

  it("records which process went non-200 and when it turned 200 again", async () => {
    const steady = await fakeProcess();
    const flaky = await fakeProcess();
    const watcher = readinessWatcher([steady.url, flaky.url], 20);
    await waitFor(() => watcher.allReady(), { what: "first polls" });
    flaky.setStatus(503);
    await waitFor(() => !watcher.allReady(), { what: "the 503" });
    const back = Date.now();
    flaky.setStatus(200);
    await waitFor(() => watcher.allReady(), { what: "recovery" });
    const records = watcher.stop();
    expect(records[steady.url]).toMatchObject({ flipped: false, ready: true });
    expect(records[steady.url]!.lastRecoveredAt).toBeUndefined();
    expect(records[flaky.url]).toMatchObject({ flipped: true, ready: true, last: 200 });
    expect(Object.keys(records[flaky.url]!.notReadyOutcomes)).toEqual(["503"]);
    expect(describeNotReady("flaky", records[flaky.url]!)).toMatch(/^flaky \(503 ×\d+\)$/);
    expect(records[steady.url]!.notReadyOutcomes).toEqual({});
    expect(records[flaky.url]!.lastRecoveredAt).toBeGreaterThanOrEqual(back);
    expect(records[flaky.url]!.firstNotReadyAt).toBeLessThanOrEqual(back);
  });

  it("counts a process that does not answer as not ready", async () => {
    const gone = await fakeProcess();
    servers[0]!.close();
    const watcher = readinessWatcher([gone.url], 20);
    await waitFor(() => watcher.current()[gone.url]!.polls > 0, { what: "a poll" });
    const record = watcher.stop()[gone.url]!;
    expect(record).toMatchObject({ flipped: true, ready: false });
    expect(Object.keys(record.notReadyOutcomes)).toEqual(["ECONNREFUSED"]);
  });

  it("refuses URLs off loopback", () => {
    expect(() => readinessWatcher(["http://10.1.2.3:3000"])).toThrow(/loopback/);
  });
});
