import type { Producer, ProducerBatch } from "kafkajs";
import { describe, expect, it } from "vitest";
import { createBatchingProducer } from "./batching-producer.ts";
import { sendBatchUntil } from "./send-batch.ts";

/** A producer whose `sendBatch` answers from a script: an error to throw, "hang", or success. */
function scriptedProducer(script: Array<Error | "hang" | "ok">) {
  const calls: ProducerBatch[] = [];
  const producer = {
    sendBatch: async (batch: ProducerBatch) => {
      calls.push(batch);
      const step = script.shift() ?? "ok";
      if (step === "hang") return new Promise(() => undefined);
      if (step instanceof Error) throw step;
      return [];
    },
  };
  return { producer: producer as unknown as Producer, calls };
}

const connectionError = () => Object.assign(new Error("Connection error: read ECONNRESET"), { name: "KafkaJSConnectionError", retriable: true });
const tooLarge = () => Object.assign(new Error("The request included a message larger than the max message size"), { name: "KafkaJSProtocolError", retriable: false });
const batch: ProducerBatch = { acks: -1, topicMessages: [{ topic: "t", messages: [{ key: "k", value: "v" }] }] };

describe("sendBatchUntil", () => {
  it("resends the whole batch after passing failures", async () => {
    const { producer, calls } = scriptedProducer([connectionError(), connectionError(), "ok"]);
    await sendBatchUntil(producer, batch, Date.now() + 5000);
    expect(calls).toHaveLength(3);
    expect(calls.every((c) => c === batch)).toBe(true);
  });

  it("gives up at the deadline with the last error", async () => {
    const { producer } = scriptedProducer(Array.from({ length: 100 }, connectionError));
    await expect(sendBatchUntil(producer, batch, Date.now() + 300)).rejects.toThrow(/ECONNRESET/);
  });

  it("does not resend what Kafka will always refuse", async () => {
    const { producer, calls } = scriptedProducer([Object.assign(new Error("retries exceeded"), { cause: tooLarge() })]);
    await expect(sendBatchUntil(producer, batch, Date.now() + 5000)).rejects.toThrow();
    expect(calls).toHaveLength(1);
  });
});

describe("createBatchingProducer", () => {
  it("answers UNAVAILABLE within its bound when Kafka hangs, and is not ready meanwhile", async () => {
    const { producer } = scriptedProducer(["hang"]);
    const batching = createBatchingProducer(producer, { timeoutMs: 100 });
    const started = Date.now();
    await expect(batching.send("t", { value: "v" })).rejects.toMatchObject({ code: "UNAVAILABLE", retriable: true });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("reports a failed batch in its readiness until a later batch succeeds", async () => {
    const { producer } = scriptedProducer(Array.from({ length: 50 }, connectionError));
    const batching = createBatchingProducer(producer, { timeoutMs: 150 });
    await expect(batching.send("t", { value: "v" })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(batching.check()).rejects.toThrow(/last send failed/);
  });

  it("keeps each caller's order within one batch", async () => {
    const { producer, calls } = scriptedProducer(["ok"]);
    const batching = createBatchingProducer(producer, { lingerMs: 5 });
    await Promise.all([1, 2, 3].map((n) => batching.send("t", { value: String(n) })));
    expect(calls[0]!.topicMessages![0]!.messages.map((m) => m.value)).toEqual(["1", "2", "3"]);
    await expect(batching.check()).resolves.toBeUndefined();
  });
});
