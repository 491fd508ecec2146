import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readinessWatcher, type ChaosLoad } from "../tools/chaos/src/chaos-load.ts";
import { startLoadOn } from "./helpers/chaos-load.ts";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { repoRoot } from "./helpers/processes.ts";
import { waitFor } from "../shared/src/testing/index.ts";

/** The figures a failing assertion shows (tests stay quiet while they pass). */
const figures = (r: object) => JSON.stringify(r);

const run = promisify(execFile);

/**
 * The fault suite's core, in `npm test`: a 3-broker Kafka of its own (ports 19192/29192/39192,
 * state under .stack/faults), 2 gateways and 2 message-service replicas, a steady load of
 * careful clients (resending unacknowledged messages, resuming after a reconnect), and one
 * fault at a time. `npm run chaos` runs the whole set on the native stack.
 */
const FAULT_STACK = {
  ...process.env,
  STACK_DIR: join(repoRoot, ".stack", "faults"),
  KAFKA_PORTS: "19192,29192,39192",
  KAFKA_HEAP_OPTS: "-Xms128m -Xmx384m",
};
const BROKERS = "127.0.0.1:19192,127.0.0.1:29192,127.0.0.1:39192";
const stack = (...args: string[]) =>
  run("bash", ["infra/native/stack.sh", ...args], { cwd: repoRoot, env: FAULT_STACK, timeout: 240_000 }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`stack.sh ${args.join(" ")} failed: ${err.message}\n${(err.stderr ?? "").slice(-3000)}`);
  });
const brokerPid = (id: number) => Number(readFileSync(join(FAULT_STACK.STACK_DIR, "pids", `kafka-3b-${id}.pid`), "utf8").split(" ")[0]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("faults (3 brokers, 2 gateways, 2 message replicas, steady load)", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    await stack("up", "--brokers", "3", "kafka");
    cluster = await startCluster({
      gateways: 2,
      messageReplicas: 2,
      env: { KAFKA_BROKERS: BROKERS, KAFKA_REPLICATION_FACTOR: "3", MESSAGE_SESSION_TIMEOUT_MS: "10000" },
    });
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await stack("down", "--purge", "kafka").catch(() => undefined);
  }, 120_000);

  const load = (pairs: number, rate: number): Promise<ChaosLoad> => startLoadOn(cluster, { pairs, rate, tag: "f" });

  it("a broker SIGKILLed under load and started again: every acknowledged message delivered, once", async () => {
    const chaos = await load(20, 100);
    const watcher = readinessWatcher(cluster.messages.map((m) => m.url));
    try {
      await sleep(5_000);
      process.kill(brokerPid(2), "SIGKILL");
      const killedAt = Date.now();
      await sleep(20_000);
      await stack("up", "--brokers", "3", "kafka");
      await sleep(5_000);
      const drain = await chaos.drain({ timeoutMs: 60_000 });
      const report = chaos.report();
      const window = chaos.report({ from: killedAt, to: Date.now() });
      expect(report.acknowledged, figures(report)).toBeGreaterThan(1500);
      expect(report.lost, figures(report)).toBe(0);
      expect(report.duplicatesShown).toBe(0);
      expect(drain.drained).toBe(true);
      expect(window.longestPauseMs, figures(window)).toBeLessThan(30_000);
      // Both replicas consume again, in their groups, without anyone restarting them (the broker's
      // return moves leaders and group coordinators: a rebalance may still be running).
      for (const m of cluster.messages) {
        let last = "";
        await waitFor(
          async () => {
            const res = await fetch(`${m.url}/readyz`);
            last = await res.text();
            return res.status === 200;
          },
          { timeoutMs: 90_000, intervalMs: 500, what: `${m.name} ready` },
        ).catch(() => expect.fail(`${m.name} /readyz still not 200: ${last}`));
      }
    } finally {
      watcher.stop();
      await chaos.close();
    }
  }, 240_000);

  it("a gateway SIGKILLed under load: its devices resume on the other one and miss nothing", async () => {
    const chaos = await load(20, 100);
    try {
      await sleep(5_000);
      const victim = cluster.gateways[0]!;
      victim.child.kill("SIGKILL");
      const killedAt = Date.now();
      await victim.exited;
      await sleep(15_000);
      const drain = await chaos.drain({ timeoutMs: 60_000 });
      const report = chaos.report();
      const window = chaos.report({ from: killedAt, to: Date.now() });
      const snapshot = chaos.snapshot();
      expect(snapshot.resumesOk, figures(snapshot)).toBeGreaterThanOrEqual(20);
      expect(report.lost, figures(report)).toBe(0);
      expect(report.duplicatesShown).toBe(0);
      expect(drain.drained).toBe(true);
      expect(window.longestPauseMs, figures(window)).toBeLessThan(10_000);
    } finally {
      await chaos.close();
    }
  }, 180_000);
});
