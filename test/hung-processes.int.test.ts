// Processes that hang instead of dying (SIGSTOP: connections stay open, nothing answers) for
// twice the gateways' heartbeat TTL, under load. Devices that stay connected throughout must
// still get every acknowledged message.
// - Redis: when it answers again every heartbeat in it is equally old; judged by their age,
//   every gateway would look dead at once, deliveries would go to no gateway and sweeps would
//   take connected users offline. Meanwhile deliveries must not wait for it: they go to every
//   gateway whose delivery topic exists.
// - A gateway: the other one rightly sweeps it, and what is sent to its devices meanwhile goes
//   to no gateway; once it runs again it must have them catch up.
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChaosReport } from "../tools/chaos/src/chaos-load.ts";
import { sleep } from "../shared/src/clients/retry.ts";
import { waitFor } from "../shared/src/testing/index.ts";
import { expectEveryAckDeliveredOnce, startLoadOn } from "./helpers/chaos-load.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { freePort } from "./helpers/processes.ts";

const TTL_MS = 4000;
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket.end() !== undefined));
    socket.on("error", () => resolve(false));
  });

describe("hung processes under load (its own redis-server, 2 gateways)", () => {
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

  /** SIGSTOP `pid` for twice the TTL under load, then SIGCONT: every acknowledged message must reach its devices. */
  async function hangUnderLoad(pid: number, tag: string): Promise<ChaosReport> {
    const c = cluster!;
    const load = await startLoadOn(c, { pairs: 10, rate: 50, tag });
    try {
      // Longer than the TTL, so that every gateway has swept-worthy heartbeats by its clock.
      await sleep(TTL_MS + 2000);
      process.kill(pid, "SIGSTOP");
      await sleep(2 * TTL_MS);
      process.kill(pid, "SIGCONT");
      await sleep(5_000);
      return await expectEveryAckDeliveredOnce(load, {
        timeoutMs: 30_000,
        minAcknowledged: 300,
        logs: () => c.gateways.map((g) => `--- ${g.name} ---\n${g.output().slice(-2000)}`).join("\n"),
      });
    } finally {
      await load.close();
    }
  }

  it("Redis hangs 8 s: every acknowledged message reaches the devices, which stayed connected, without waiting for Redis", async () => {
    const report = await hangUnderLoad(redis!.pid!, "rf");
    // Deliveries go to every gateway once the registry has not answered for 1 s, instead
    // of stopping for the whole hang.
    expect(report.longestPauseMs, JSON.stringify(report)).toBeLessThan(TTL_MS);
  }, 120_000);

  it("a gateway hangs 8 s and is swept meanwhile: its devices catch up once it runs again", async () => {
    const frozen = cluster!.gateways[0]!;
    try {
      await hangUnderLoad(frozen.child.pid!, "gf");
    } finally {
      process.kill(frozen.child.pid!, "SIGCONT");
    }
  }, 120_000);
});
