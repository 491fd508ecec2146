import type { ConfirmChannel, GetMessage, Options } from "amqplib";
import { DependencyError, isAppError, type Logger } from "@chat/shared";
import { JOB_HEADERS, autoMessageJobSchema, type AutoMessageJob } from "@chat/shared/contracts";
import type { AutoMessageStore } from "../automessages/automessage-store.ts";
import type { AutoMessageQueues } from "../automessages/topology.ts";
import type { AmqpChannels } from "./amqp-channels.ts";
import type { DeadLetterView, DeadLettersView, RetryResult } from "./ops-types.ts";
import { createSerialQueue } from "./serial.ts";

/** At most this many dead letters go back per `{ all: true }` retry (and per listing). */
export const MAX_RETRY_ALL = 1000;
/** Set on a message an operator sent back, and kept if it fails again (the worker copies headers). */
export const RETRIED_AT_HEADER = "x-dlq-retried-at";

export interface DeadLettersOptions {
  /** The console's own RabbitMQ channels: one per operation holds the browsed messages unacked. */
  amqp: AmqpChannels;
  queues: AutoMessageQueues;
  store: AutoMessageStore;
  logger: Logger;
}

function jobOf(msg: GetMessage): AutoMessageJob | null {
  try {
    const parsed = autoMessageJobSchema.safeParse(JSON.parse(msg.content.toString("utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

const idOf = (msg: GetMessage): string | null => jobOf(msg)?.automessageId ?? (typeof msg.properties.messageId === "string" ? msg.properties.messageId : null);

function toView(msg: GetMessage): DeadLetterView {
  const job = jobOf(msg);
  const headers = msg.properties.headers ?? {};
  const text = (v: unknown) => (v === undefined || v === null ? null : String(v));
  const attempts = Number(headers[JOB_HEADERS.attempts]);
  return {
    automessageId: idOf(msg),
    senderId: job?.senderId ?? null,
    recipientId: job?.recipientId ?? null,
    content: job?.content ?? null,
    reason: text(headers[JOB_HEADERS.reason]),
    attempts: Number.isFinite(attempts) ? attempts : null,
    failedAt: text(headers[JOB_HEADERS.failedAt]),
  };
}

function publishConfirmed(channel: ConfirmChannel, queue: string, content: Buffer, options: Options.Publish): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.sendToQueue(queue, content, options, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * The AutoMessage dead-letter queue, browsed and retried over AMQP on channels the console
 * owns. Browsing takes messages with `basic.get` (unacked) and hands every one back with
 * `nack(requeue)`: RabbitMQ puts requeued messages back at their original place, so the
 * queue keeps its order, and a crash mid-browse closes the channel, which requeues them
 * just the same. A retry walks the queue the same way; a message asked for is published
 * to the main queue with a publisher confirm and its DLQ copy is acked only after that
 * confirm, so at every moment it is in at least one of the two queues. One operation at a
 * time: a browse holding messages would hide them from a concurrent retry. (The management
 * API's "get messages" with ack_requeue_true browses the same way, but cannot hold a
 * message until a publish is confirmed, so the retry needs AMQP anyway; one mechanism
 * serves both.)
 */
export function createDeadLetters({ amqp, queues, store, logger }: DeadLettersOptions) {
  const log = logger.child({ component: "ops-dlq" });
  const serial = createSerialQueue();
  const oneAtATime = <T>(task: (ch: ConfirmChannel) => Promise<T>) =>
    serial(() =>
      amqp.withChannel(task).catch((err: unknown) => {
        // A channel closed under the walk (broker restart): its held messages are back in the queue.
        throw isAppError(err) ? err : new DependencyError("RabbitMQ failed during a dead-letter operation", err);
      }),
    );

  /** Hands back every message this walk held, in one `nack(multiple, requeue)`. */
  function requeue(ch: ConfirmChannel, held: GetMessage[]): void {
    const last = held.at(-1);
    if (!last) return;
    try {
      ch.nack(last, true, true);
    } catch (err) {
      // The channel is gone: the broker requeued everything unacked on it.
      log.warn({ err }, "could not requeue browsed dead letters; the closed channel returned them");
    }
  }

  async function depth(ch: ConfirmChannel): Promise<number> {
    try {
      return (await ch.checkQueue(queues.dlq)).messageCount;
    } catch (err) {
      throw new DependencyError("RabbitMQ unavailable", err);
    }
  }

  /** Publishes one dead letter to the main queue with fresh attempts, then acks its DLQ copy. */
  async function sendBack(ch: ConfirmChannel, msg: GetMessage, id: string): Promise<void> {
    const before = await store.markRetried(id).catch((err: unknown) => {
      throw new DependencyError("MongoDB unavailable", err);
    });
    const { [JOB_HEADERS.reason]: reason, [JOB_HEADERS.failedAt]: _failedAt, ...headers } = msg.properties.headers ?? {};
    try {
      await publishConfirmed(ch, queues.main, msg.content, {
        persistent: true,
        messageId: id,
        contentType: "application/json",
        headers: { ...headers, [JOB_HEADERS.attempts]: 0, [RETRIED_AT_HEADER]: new Date().toISOString() },
      });
    } catch (err) {
      if (before) await store.unmarkRetried(before).catch((e: unknown) => log.error({ err: e, id }, "could not restore a dead letter's state"));
      throw new DependencyError("RabbitMQ did not confirm the retried AutoMessage", err);
    }
    ch.ack(msg);
    log.info({ audit: "automessage.dlq.retry", id, by: "admin", reason: reason === undefined ? null : String(reason) }, "AutoMessage sent back from the dead-letter queue");
  }

  return {
    /** The first `limit` dead letters, in queue order, with their reasons; the queue is left as it was. */
    list(limit: number): Promise<DeadLettersView> {
      return oneAtATime(async (ch) => {
        const held: GetMessage[] = [];
        try {
          const count = await depth(ch);
          while (held.length < Math.min(limit, count)) {
            const msg = await ch.get(queues.dlq, { noAck: false });
            if (!msg) break;
            held.push(msg);
          }
          return { depth: count, records: held.map(toView) };
        } finally {
          requeue(ch, held);
        }
      });
    },

    /**
     * Sends the dead letters of these AutoMessages (or the first MAX_RETRY_ALL of all) back
     * through the main queue, each once: a second DLQ copy of the same id stays where it is.
     */
    retry(request: { ids: string[] } | { all: true }): Promise<RetryResult> {
      return oneAtATime(async (ch) => {
        const wanted = "ids" in request ? new Set(request.ids) : null;
        const retried = new Set<string>();
        const held: GetMessage[] = [];
        try {
          // Only what was there when the walk began: a letter dead-lettered meanwhile waits for the next.
          const count = await depth(ch);
          for (let seen = 0; seen < count; seen++) {
            if (wanted ? retried.size === wanted.size : retried.size >= MAX_RETRY_ALL) break;
            const msg = await ch.get(queues.dlq, { noAck: false });
            if (!msg) break;
            const id = idOf(msg);
            if (!id || retried.has(id) || (wanted && !wanted.has(id))) {
              held.push(msg);
              continue;
            }
            try {
              await sendBack(ch, msg, id);
            } catch (err) {
              held.push(msg);
              throw err;
            }
            retried.add(id);
          }
        } finally {
          requeue(ch, held);
        }
        return { retried: [...retried], notFound: wanted ? [...wanted].filter((id) => !retried.has(id)) : [] };
      });
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
