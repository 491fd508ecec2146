// Processes that hang instead of dying (SIGSTOP: connections stay open, nothing answers) for
// twice the gateways' heartbeat TTL, under load. Devices that stay connected throughout must
// still get every acknowledged message.
// - Redis: when it answers again every heartbeat in it is equally old; judged by their age,
//   every gateway would look dead at once, deliveries would go to no gateway and sweeps would
//   take connected users offline. Meanwhile deliveries (and broadcasts) must not wait for it:
//   they go to every gateway whose delivery topic exists.
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

  /** A push to every device through the first message replica: how long its answer took, and the answer (none after the TTL). */
  async function broadcast(): Promise<{ ms: number; status?: number; body?: unknown; error?: string }> {
    const started = Date.now();
    try {
      const res = await fetch(`${cluster!.messages[0]!.url}/internal/push`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-internal-token": cluster!.env.INTERNAL_API_TOKEN! },
        body: JSON.stringify({ target: { all: true }, event: "notice", data: { n: 1 } }),
        signal: AbortSignal.timeout(TTL_MS),
      });
      return { ms: Date.now() - started, status: res.status, body: await res.json() };
    } catch (err) {
      return { ms: Date.now() - started, error: String(err) };
    }
  }

  /**
   * SIGSTOP `pid` for twice the TTL under load, then SIGCONT: every acknowledged message must
   * reach its devices. `whileHung` runs a second into the hang.
   */
  async function hangUnderLoad(pid: number, tag: string, whileHung?: () => Promise<void>): Promise<ChaosReport> {
    const c = cluster!;
    const load = await startLoadOn(c, { pairs: 10, rate: 50, tag });
    try {
      // Longer than the TTL, so that every gateway has swept-worthy heartbeats by its clock.
      await sleep(TTL_MS + 2000);
      process.kill(pid, "SIGSTOP");
      const hungAt = Date.now();
      await sleep(1000);
      await whileHung?.();
      await sleep(2 * TTL_MS - (Date.now() - hungAt));
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
    let pushed: Awaited<ReturnType<typeof broadcast>> | undefined;
    const report = await hangUnderLoad(redis!.pid!, "rf", async () => {
      pushed = await broadcast();
    });
    // A broadcast goes to every gateway with a delivery topic instead of waiting for the registry's list.
    expect(pushed, JSON.stringify(pushed)).toMatchObject({ status: 202, body: { target: "all", gateways: 2 } });
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
