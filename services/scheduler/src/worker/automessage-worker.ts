import type { ConfirmChannel, ConsumeMessage } from "amqplib";
import {
  DependencyError,
  NotFoundError,
  ValidationError,
  buildSendRecord,
  failpoint,
  type AmqpDependency,
  type BatchingProducer,
  type Logger,
} from "@chat/shared";
import { JOB_HEADERS, autoMessageJobSchema, type AutoMessageJob } from "@chat/shared/contracts";
import type { Counter } from "prom-client";
import type { AutoMessageStore } from "../automessages/automessage-store.ts";
import type { AutoMessageQueues } from "../automessages/topology.ts";
import type { DirectConversations } from "./message-service-client.ts";

export interface WorkerDeps {
  amqp: AmqpDependency;
  queues: AutoMessageQueues;
  store: AutoMessageStore;
  conversations: DirectConversations;
  producer: BatchingProducer;
  sendTopic: string;
  maxAttempts: number;
  logger: Logger;
  outcomes: Counter<"outcome">;
}

/** The chat message of an AutoMessage: its clientMsgId comes from the AutoMessage id, so resends are one message. */
export const autoClientMsgId = (automessageId: string) => `auto-${automessageId}`;

/**
 * Consumes `message_sending_queue` with manual acks. Each job: skip if already sent, make
 * sure the direct conversation exists, send through `message.send` (idempotent key from
 * the AutoMessage id), mark sent, ack. Retriable failures wait in a delay queue and come
 * back; after the last attempt, or at once for non-retriable ones, the job goes to the DLQ
 * with its reason. Duplicated deliveries never make a second chat message.
 */
export function createAutoMessageWorker(deps: WorkerDeps) {
  const { amqp, queues, store, conversations, producer, logger, outcomes } = deps;
  const log = logger.child({ component: "automessage-worker" });
  const inFlight = new Set<Promise<void>>();
  let consumerTag: string | undefined;
  let stopping = false;

  async function deliver(job: AutoMessageJob): Promise<void> {
    const doc = await store.findById(job.automessageId).catch((err: unknown) => {
      throw new DependencyError("MongoDB unavailable", err);
    });
    if (!doc) throw new NotFoundError("AutoMessage not found", "AUTOMESSAGE_NOT_FOUND");
    if (doc.isSent) {
      outcomes.inc({ outcome: "duplicate" });
      return;
    }
    const conversationId = await conversations.ensure(job.senderId, job.recipientId);
    const { record, message } = buildSendRecord({
      senderId: job.senderId,
      conversationId,
      content: job.content,
      clientMsgId: autoClientMsgId(job.automessageId),
      kind: "auto",
    });
    // Rejects with UNAVAILABLE (retriable) when Kafka does not take it in time.
    await producer.send(deps.sendTopic, message);
    failpoint("automessage.after-send");
    await store.markSent(job.automessageId, { messageId: record.messageId, conversationId }).catch((err: unknown) => {
      throw new DependencyError("MongoDB unavailable", err);
    });
    outcomes.inc({ outcome: "sent" });
  }

  function republish(channel: ConfirmChannel, queue: string, msg: ConsumeMessage, headers: Record<string, unknown>): Promise<void> {
    return new Promise((resolve, reject) => {
      channel.sendToQueue(
        queue,
        msg.content,
        { persistent: true, messageId: msg.properties.messageId, contentType: "application/json", headers: { ...msg.properties.headers, ...headers } },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  async function handle(channel: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    const attemptsBefore = Number(msg.properties.headers?.[JOB_HEADERS.attempts] ?? 0);
    let job: AutoMessageJob | undefined;
    try {
      const parsed = autoMessageJobSchema.safeParse(JSON.parse(msg.content.toString()));
      if (!parsed.success) throw new ValidationError("Invalid AutoMessage job");
      job = parsed.data;
      await deliver(job);
      channel.ack(msg);
    } catch (err) {
      const retriable = (err as { retriable?: unknown }).retriable === true;
      const attempts = attemptsBefore + 1;
      const reason = (err as Error).message ?? String(err);
      const dead = !retriable || attempts >= deps.maxAttempts;
      try {
        if (dead) {
          await republish(channel, queues.dlq, msg, { [JOB_HEADERS.attempts]: attempts, [JOB_HEADERS.reason]: reason, [JOB_HEADERS.failedAt]: new Date().toISOString() });
          outcomes.inc({ outcome: "dead-lettered" });
          log.warn({ automessageId: job?.automessageId, attempts, reason }, "AutoMessage dead-lettered");
        } else {
          await republish(channel, queues.retry[attempts - 1]!, msg, { [JOB_HEADERS.attempts]: attempts, [JOB_HEADERS.reason]: reason });
          outcomes.inc({ outcome: "retried" });
          log.info({ automessageId: job?.automessageId, attempts, reason }, "AutoMessage will be retried");
        }
        if (job) await store.markFailed(job.automessageId, reason, dead).catch(() => undefined);
        channel.ack(msg);
      } catch (publishErr) {
        // Could not park it: give it back to the queue rather than lose it.
        log.error({ err: publishErr }, "could not route a failed AutoMessage; requeueing");
        channel.nack(msg, false, true);
      }
    }
  }

  return {
    async start(): Promise<void> {
      await amqp.onConnect(async (channel) => {
        if (stopping) return;
        const res = await channel.consume(queues.main, (msg) => {
          if (!msg) return;
          const p = handle(channel, msg);
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
        });
        consumerTag = res.consumerTag;
      });
    },

    /** Stops taking jobs and lets the ones in hand finish (and be acked). */
    async stop(): Promise<void> {
      stopping = true;
      if (consumerTag) await amqp.channel().cancel(consumerTag).catch(() => undefined);
      await Promise.allSettled([...inFlight]);
    },
  };
}
