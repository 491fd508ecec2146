// A Redis that hangs instead of dying (SIGSTOP: connections stay open, nothing answers) for
// twice the gateways' heartbeat TTL, under load. When it answers again every heartbeat in it is
// equally old: judged by their age, every gateway would look dead at once, deliveries would go
// to no gateway and sweeps would take connected users offline. Devices that stayed connected
// must still get every acknowledged message, live.
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../shared/src/clients/retry.ts";
import { waitFor } from "../shared/src/testing/index.ts";
import { startLoadOn } from "./helpers/chaos-load.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { freePort } from "./helpers/processes.ts";

const TTL_MS = 4000;
const figures = (r: object) => JSON.stringify(r);
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket.end() !== undefined));
    socket.on("error", () => resolve(false));
  });

describe("a hung Redis under load (its own redis-server, 2 gateways)", () => {
  let redis: ChildProcess | undefined;
  let cluster: TestCluster | undefined;

  beforeAll(async () => {
    const port = await freePort();
    redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    await waitFor(() => listening(port), { timeoutMs: 10_000, what: "redis-server listening" });
    cluster = await startCluster({
      gateways: 2,
      env: { REDIS_URL: `redis://127.0.0.1:${port}`, PRESENCE_HEARTBEAT_MS: "1000", PRESENCE_GATEWAY_TTL_MS: String(TTL_MS), PRESENCE_SWEEP_MS: "1000" },
    });
  }, 180_000);

  afterAll(async () => {
    if (redis?.pid && redis.exitCode === null) process.kill(redis.pid, "SIGCONT");
    await cluster?.stop();
    redis?.kill("SIGTERM");
  }, 60_000);

  it("delivers every message acknowledged around an 8 s hang to the devices that stayed connected", async () => {
    const c = cluster!;
    const load = await startLoadOn(c, { pairs: 10, rate: 50, tag: "rf" });
    try {
      // Longer than the TTL, so that every gateway has swept-worthy heartbeats by its clock.
      await sleep(TTL_MS + 2000);
      process.kill(redis!.pid!, "SIGSTOP");
      await sleep(2 * TTL_MS);
      process.kill(redis!.pid!, "SIGCONT");
      await sleep(5_000);
      const drain = await load.drain({ timeoutMs: 30_000 });
      const report = load.report();
      const logs = c.gateways.map((g) => `--- ${g.name} ---\n${g.output().slice(-2000)}`).join("\n");
      expect(drain.drained, `${figures(report)}\n${logs}`).toBe(true);
      expect(report.acknowledged, figures(report)).toBeGreaterThan(300);
      expect(report.lost, figures(report)).toBe(0);
      expect(report.duplicatesShown, figures(report)).toBe(0);
    } finally {
      await load.close();
    }
  }, 120_000);
});
