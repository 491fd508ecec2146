import { EventEmitter } from "node:events";
import type { Consumer } from "kafkajs";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createLogger } from "../logger.ts";
import { waitFor } from "../testing/wait-for.ts";
import { superviseConsumer, type HandlingReport } from "./supervised-consumer.ts";

const EVENTS = { GROUP_JOIN: "consumer.group_join", REBALANCING: "consumer.rebalancing", CRASH: "consumer.crash", END_BATCH_PROCESS: "consumer.end_batch_process" } as const;

/** The slice of a kafkajs consumer the supervisor uses, driven by the test. */
class FakeConsumer extends EventEmitter {
  readonly events = EVENTS;
  connected = false;
  disconnects = 0;
  constructor(private readonly failConnect: boolean) {
    super();
  }
  async connect() {
    if (this.failConnect) throw new Error("brokers unreachable");
    this.connected = true;
  }
  async disconnect() {
    this.connected = false;
    this.disconnects++;
  }
  join(memberAssignment: Record<string, number[]> = {}) {
    this.emit(EVENTS.GROUP_JOIN, { payload: { memberAssignment } });
  }
  batchDone(topic: string, partition: number, offsetLag: number) {
    this.emit(EVENTS.END_BATCH_PROCESS, { payload: { topic, partition, offsetLag: String(offsetLag) } });
  }
  crash(restart: boolean) {
    this.emit(EVENTS.CRASH, { payload: { error: new Error("Broker 2 not found in the cached metadata"), restart } });
  }
}

function setup(options: { failFirstConnects?: number; stuckAfterMs?: number; stalledAfterMs?: number } = {}) {
  const built: FakeConsumer[] = [];
  let failures = options.failFirstConnects ?? 0;
  const started: FakeConsumer[] = [];
  const handlings: HandlingReport[] = [];
  const registry = new Registry();
  const supervised = superviseConsumer({
    name: "test.topic",
    config: { groupId: "g" },
    logger: createLogger({ name: "test", level: "silent" }),
    registry,
    createConsumer: () => {
      const c = new FakeConsumer(failures-- > 0);
      built.push(c);
      return c as unknown as Consumer;
    },
    start: async (c, handling) => {
      started.push(c as unknown as FakeConsumer);
      handlings.push(handling);
    },
    minDelayMs: 1,
    maxDelayMs: 5,
    stuckAfterMs: options.stuckAfterMs ?? 60_000,
    stalledAfterMs: options.stalledAfterMs,
  });
  return { supervised, built, started, handlings, registry };
}

describe("superviseConsumer", () => {
  it("shows the lag of the partitions it holds, and drops those a rebalance took away", async () => {
    const { supervised, started, registry } = setup();
    await waitFor(() => started.length === 1);
    const c = started[0]!;
    c.join({ t: [0, 1] });
    c.batchDone("t", 0, 5);
    c.batchDone("t", 1, 7);
    const lags = async () => (await registry.getSingleMetric("kafka_consumer_lag")!.get()).values.map((v) => `${v.labels.partition}=${v.value}`).sort();
    expect(await lags()).toEqual(["0=5", "1=7"]);
    // Partition 1 moved to another member: its last figure here would never change again.
    c.join({ t: [0] });
    expect(await lags()).toEqual(["0=5"]);
    c.batchDone("t", 0, 0);
    expect(await lags()).toEqual(["0=0"]);
    await supervised.stop();
  });

  it("is not ready until its consumer has joined the group", async () => {
    const { supervised, started } = setup();
    await waitFor(() => started.length === 1);
    await expect(supervised.check()).rejects.toThrow(/starting/);
    started[0]!.join();
    await expect(supervised.check()).resolves.toBeUndefined();
    await supervised.stop();
  });

  it("is not ready while it holds one partition's records unhandled too long, and is again once they are handled", async () => {
    const { supervised, started, handlings } = setup({ stalledAfterMs: 50 });
    await waitFor(() => started.length === 1);
    started[0]!.join();
    const handling = handlings[0]!;
    handling.started("t:1");
    handling.failed("t:1", new Error("store away"));
    await expect(supervised.check()).resolves.toBeUndefined(); // a failed try is not yet a stall
    await new Promise((r) => setTimeout(r, 60));
    handling.failed("t:1", new Error("still away"));
    handling.started("t:0");
    handling.handled("t:0"); // other partitions doing well do not hide it
    await expect(supervised.check()).rejects.toThrow(/joined, but records of t:1 have waited \d+s to be handled \(still away\)/);
    handling.handled("t:1");
    await expect(supervised.check()).resolves.toBeUndefined();
    // A try that never settles counts as well, before any failure is reported.
    handling.started("t:3");
    await new Promise((r) => setTimeout(r, 60));
    await expect(supervised.check()).rejects.toThrow(/records of t:3 .*\(a try not settled yet\)/);
    // A new assignment forgets the records in hand: they may be someone else's now.
    started[0]!.join();
    await expect(supervised.check()).resolves.toBeUndefined();
    await supervised.stop();
  });

  it("retries a start while Kafka is unreachable", async () => {
    const { supervised, built, started } = setup({ failFirstConnects: 3 });
    await waitFor(() => started.length === 1);
    expect(built).toHaveLength(4);
    await supervised.stop();
  });

  it("rebuilds and re-joins a consumer that kafkajs gave up on, and counts it", async () => {
    const { supervised, started, registry } = setup();
    await waitFor(() => started.length === 1);
    started[0]!.join();
    started[0]!.crash(false);
    await expect(supervised.check()).rejects.toThrow(/crashed/);
    await waitFor(() => started.length === 2);
    expect(started[0]!.disconnects).toBeGreaterThan(0);
    started[1]!.join();
    await expect(supervised.check()).resolves.toBeUndefined();
    expect(supervised.rebuilds).toBe(1);
    expect(await registry.getSingleMetricAsString("kafka_consumer_rebuilds_total")).toContain('reason="crash"} 1');
    // Events of the replaced consumer no longer count.
    started[0]!.crash(false);
    await expect(supervised.check()).resolves.toBeUndefined();
    await supervised.stop();
  });

  it("leaves a crash that kafkajs restarts itself to kafkajs", async () => {
    const { supervised, started } = setup();
    await waitFor(() => started.length === 1);
    started[0]!.crash(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(started).toHaveLength(1);
    started[0]!.join();
    await expect(supervised.check()).resolves.toBeUndefined();
    await supervised.stop();
  });

  it("rebuilds a consumer stuck out of its group", async () => {
    const { supervised, started } = setup({ stuckAfterMs: 50 });
    await waitFor(() => started.length >= 1);
    started[0]!.emit(EVENTS.REBALANCING, { payload: {} });
    await waitFor(() => started.length >= 2, { timeoutMs: 2000 });
    expect(supervised.rebuilds).toBeGreaterThanOrEqual(1);
    await supervised.stop();
    await expect(supervised.check()).rejects.toThrow(/stopped/);
  });
});
