import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAmqp, createLogger, type AmqpDependency } from "../src/index.ts";
import { stackEnv, uniqueName, waitFor } from "../src/testing/index.ts";

const logger = createLogger({ name: "test", level: "silent" });

describe("amqp client factory against the real RabbitMQ", () => {
  let amqp: AmqpDependency;
  beforeAll(async () => {
    amqp = await createAmqp({ url: stackEnv.amqpUrl, logger });
  });
  afterAll(() => amqp.close());

  it("publishes with confirms, consumes and acks", async () => {
    await expect(amqp.check()).resolves.toBeUndefined();
    const queue = uniqueName("q");
    const ch = amqp.channel();
    await ch.assertQueue(queue, { durable: true, autoDelete: false });
    await new Promise<void>((resolve, reject) =>
      ch.sendToQueue(queue, Buffer.from("one"), { persistent: true }, (err) => (err ? reject(err) : resolve())),
    );
    const got: string[] = [];
    await ch.consume(queue, (msg) => {
      if (!msg) return;
      got.push(msg.content.toString());
      ch.ack(msg);
    });
    await waitFor(() => got.length === 1, { what: "consumed message" });
    expect(got).toEqual(["one"]);
    await waitFor(async () => (await ch.checkQueue(queue)).messageCount === 0, { what: "queue drained" });
    await ch.deleteQueue(queue);
  });

  it("routes a rejected message to its dead-letter queue", async () => {
    const queue = uniqueName("q");
    const dlq = `${queue}.dlq`;
    const ch = amqp.channel();
    await ch.assertQueue(dlq, { durable: true });
    await ch.assertQueue(queue, { durable: true, deadLetterExchange: "", deadLetterRoutingKey: dlq });
    await ch.publish("", queue, Buffer.from("poison"), { persistent: true });
    await ch.waitForConfirms();
    const { consumerTag } = await ch.consume(queue, (msg) => {
      if (msg) ch.nack(msg, false, false);
    });
    await waitFor(async () => (await ch.checkQueue(dlq)).messageCount === 1, { what: "message in DLQ" });
    await ch.cancel(consumerTag);
    const dead = await ch.get(dlq, { noAck: true });
    expect(dead && dead.content.toString()).toBe("poison");
    expect(dead && (dead.properties.headers?.["x-death"] as unknown[] | undefined)?.length).toBe(1);
    await ch.deleteQueue(queue);
    await ch.deleteQueue(dlq);
  });
});
