import type { Producer, ProducerBatch } from "kafkajs";
import { describe, expect, it } from "vitest";
import { UnavailableError } from "../errors.ts";
import { createBatchingProducer } from "./batching-producer.ts";

/** A kafkajs producer whose `sendBatch` the test controls. */
function fakeProducer(answer: (batch: ProducerBatch) => Promise<unknown> = () => Promise.resolve([])) {
  const batches: ProducerBatch[] = [];
  const producer = {
    sendBatch: (batch: ProducerBatch) => {
      batches.push(batch);
      return answer(batch);
    },
  } as unknown as Producer;
  return { producer, batches };
}
const values = (b: ProducerBatch) => b.topicMessages!.map((t) => `${t.topic}=${t.messages.map((m) => String(m.value)).join(",")}`);

describe("createBatchingProducer", () => {
  it("sends what arrives within the linger as one batch, by topic and in order, and resolves each caller", async () => {
    const { producer, batches } = fakeProducer();
    const p = createBatchingProducer(producer, { lingerMs: 5 });
    await Promise.all([p.send("a", { value: "1" }), p.send("b", { value: "2" }), p.send("a", { value: "3" })]);
    expect(batches.map(values)).toEqual([["a=1,3", "b=2"]]);
    expect(batches[0]!.acks).toBe(-1);
  });

  it("keeps one batch in flight: what arrives meanwhile goes next, in order", async () => {
    let release!: () => void;
    let first = true;
    const { producer, batches } = fakeProducer(() => {
      if (!first) return Promise.resolve([]);
      first = false;
      return new Promise((r) => (release = () => r([])));
    });
    const p = createBatchingProducer(producer, { lingerMs: 1 });
    const a = p.send("t", { value: "1" });
    await new Promise((r) => setTimeout(r, 10));
    const rest = [p.send("t", { value: "2" }), p.send("t", { value: "3" })];
    await new Promise((r) => setTimeout(r, 10));
    expect(batches).toHaveLength(1);
    release();
    await Promise.all([a, ...rest]);
    expect(batches.map(values)).toEqual([["t=1"], ["t=2,3"]]);
  });

  it("flushes at once at maxBatch", async () => {
    const { producer, batches } = fakeProducer();
    const p = createBatchingProducer(producer, { lingerMs: 60_000, maxBatch: 3 });
    await Promise.all([1, 2, 3].map((n) => p.send("t", { value: String(n) })));
    expect(batches.map(values)).toEqual([["t=1,2,3"]]);
  });

  it("rejects callers with UnavailableError within the timeout when Kafka keeps failing, and is not ready until a send succeeds", async () => {
    let failing = true;
    const { producer } = fakeProducer(() => (failing ? Promise.reject(Object.assign(new Error("leader not available"), { retriable: true })) : Promise.resolve([])));
    const p = createBatchingProducer(producer, { lingerMs: 1, timeoutMs: 300 });
    const started = Date.now();
    const err = await p.send("t", { value: "1" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(p.check()).rejects.toThrow(/last send failed/);
    failing = false;
    await p.send("t", { value: "2" });
    await expect(p.check()).resolves.toBeUndefined();
  });
});
