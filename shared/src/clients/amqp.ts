import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import type { Logger } from "../logger.ts";
import { sleep, withRetry } from "./retry.ts";
import { withTimeout, type Dependency } from "./dependency.ts";

/** Declares queues / starts consumers on a fresh channel; runs again after every reconnect. */
export type AmqpSetup = (channel: ConfirmChannel) => Promise<void>;

export interface AmqpDependency extends Dependency {
  /** The current confirm channel; throws while disconnected. */
  channel(): ConfirmChannel;
  /** Registers a setup step and runs it now when connected. */
  onConnect(setup: AmqpSetup): Promise<void>;
}

export interface AmqpOptions {
  url: string;
  logger: Logger;
  /** Unacked deliveries per consumer on the shared channel. @default 20 */
  prefetch?: number;
}

/**
 * amqplib does not reconnect by itself: this keeps one connection and one confirm channel,
 * reconnects with backoff when the broker goes away, and replays the registered setups
 * (queue declarations, consumers) on the new channel.
 */
export async function createAmqp({ url, logger, prefetch = 20 }: AmqpOptions): Promise<AmqpDependency> {
  const log = logger.child({ component: "amqp" });
  const setups: AmqpSetup[] = [];
  let connection: ChannelModel | undefined;
  let current: ConfirmChannel | undefined;
  let closing = false;

  async function connect(): Promise<void> {
    const conn = await amqp.connect(url);
    const channel = await conn.createConfirmChannel();
    await channel.prefetch(prefetch);
    conn.on("error", (err) => log.warn({ err }, "amqp connection error"));
    channel.on("error", (err) => log.warn({ err }, "amqp channel error"));
    conn.on("close", () => {
      current = undefined;
      connection = undefined;
      if (!closing) void reconnect();
    });
    connection = conn;
    current = channel;
    for (const setup of setups) await setup(channel);
  }

  async function reconnect(): Promise<void> {
    log.warn("amqp connection lost, reconnecting");
    while (!closing) {
      try {
        await connect();
        log.info("amqp reconnected");
        return;
      } catch (err) {
        log.warn({ err }, "amqp reconnect failed");
        await sleep(1000);
      }
    }
  }

  await withRetry(connect, { what: "amqp connect", logger: log });
  log.info("amqp connected");

  return {
    name: "rabbitmq",
    channel() {
      if (!current) throw new Error("RabbitMQ channel is not connected");
      return current;
    },
    async onConnect(setup) {
      setups.push(setup);
      if (current) await setup(current);
    },
    check: async () => {
      if (!current || !connection) throw new Error("RabbitMQ is not connected");
      // A passive round trip on an exchange every broker has proves the channel answers.
      await withTimeout(current.checkExchange("amq.direct"), 2000, "rabbitmq checkExchange");
    },
    close: async () => {
      if (closing) return;
      closing = true;
      try {
        await current?.close();
      } catch {
        // already closed by the broker
      }
      try {
        await connection?.close();
      } catch {
        // already closed by the broker
      }
    },
  };
}
