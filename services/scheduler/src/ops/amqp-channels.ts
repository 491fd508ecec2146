import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import { DependencyError, type Logger } from "@chat/shared";

/**
 * RabbitMQ for the console: one connection of its own (made on first use, again after it
 * drops) and a fresh confirm channel per operation. A channel error (a refused ack, a
 * missing queue) then ends that operation only, and closing the channel hands anything it
 * still held back to its queue.
 */
export function createAmqpChannels({ url, logger }: { url: string; logger: Logger }) {
  let connection: Promise<ChannelModel> | undefined;
  let closed = false;

  const connect = () =>
    (connection ??= amqp.connect(url).then(
      (c) => {
        c.on("error", (err) => logger.warn({ err }, "ops amqp connection error"));
        c.on("close", () => (connection = undefined));
        return c;
      },
      (err: unknown) => {
        connection = undefined;
        throw err;
      },
    ));

  return {
    async withChannel<T>(fn: (channel: ConfirmChannel) => Promise<T>): Promise<T> {
      if (closed) throw new DependencyError("RabbitMQ connection closed");
      let channel: ConfirmChannel;
      try {
        channel = await (await connect()).createConfirmChannel();
      } catch (err) {
        throw new DependencyError("RabbitMQ unavailable", err);
      }
      channel.on("error", (err) => logger.warn({ err }, "ops amqp channel error"));
      try {
        return await fn(channel);
      } finally {
        await channel.close().catch(() => undefined);
      }
    },
    async close(): Promise<void> {
      closed = true;
      const c = await connection?.catch(() => undefined);
      await c?.close().catch(() => undefined);
    },
  };
}

export type AmqpChannels = ReturnType<typeof createAmqpChannels>;
