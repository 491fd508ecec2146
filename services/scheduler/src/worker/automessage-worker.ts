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
import type { AutoMessageDoc, AutoMessageStore } from "../automessages/automessage-store.ts";
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

/** Deliveries handled together at most, and how long the first of them waits for more. */
const BATCH_MAX = 100;
const BATCH_WAIT_MS = 10;

interface Delivery {
  channel: ConfirmChannel;
  msg: ConsumeMessage;
}

/**
 * Consumes `message_sending_queue` with manual acks, in batches of up to 100 deliveries (the
 * prefetch keeps a few batches in hand). Each batch: one read of its AutoMessages (skip the
 * ones already sent), one call that makes sure every direct conversation exists, the sends
 * through `message.send` (idempotent keys from the AutoMessage ids), one write that marks them
 * sent, then an ack per delivery. A job that fails alone fails alone: retriable failures wait
 * in a delay queue and come back; after the last attempt, or at once for non-retriable ones,
 * the job goes to the DLQ with its reason. Duplicated deliveries never make a second chat
 * message: a resend carries the same messageId, which the message service stores once.
 */
export function createAutoMessageWorker(deps: WorkerDeps) {
  const { amqp, queues, store, conversations, producer, logger, outcomes } = deps;
  const log = logger.child({ component: "automessage-worker" });
  const inFlight = new Set<Promise<void>>();
  let consumerTag: string | undefined;
  let stopping = false;
  let pending: Delivery[] = [];
  let timer: NodeJS.Timeout | undefined;

  const dependency = (err: unknown) => new DependencyError("MongoDB unavailable", err);

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

  /** Parks one failed delivery: a delay queue while attempts are left and it may pass, else the DLQ. */
  async function fail({ channel, msg }: Delivery, job: AutoMessageJob | undefined, err: unknown): Promise<void> {
    const attempts = Number(msg.properties.headers?.[JOB_HEADERS.attempts] ?? 0) + 1;
    const retriable = (err as { retriable?: unknown }).retriable === true;
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

  async function handleBatch(batch: Delivery[]): Promise<void> {
    const failures: Array<Promise<void>> = [];
    const jobs: Array<{ delivery: Delivery; job: AutoMessageJob }> = [];
    for (const delivery of batch) {
      let parsed;
      try {
        parsed = autoMessageJobSchema.safeParse(JSON.parse(delivery.msg.content.toString()));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) jobs.push({ delivery, job: parsed.data });
      else failures.push(fail(delivery, undefined, new ValidationError("Invalid AutoMessage job")));
    }
    const failAll = (list: typeof jobs, err: unknown) => list.forEach(({ delivery, job }) => failures.push(fail(delivery, job, err)));
    try {
      let docs;
      try {
        docs = new Map((await store.findByIds([...new Set(jobs.map((j) => j.job.automessageId))])).map((d) => [d._id, d]));
      } catch (err) {
        failAll(jobs, dependency(err));
        return;
      }
      const toSend: Array<{ delivery: Delivery; job: AutoMessageJob; doc: AutoMessageDoc }> = [];
      const seen = new Set<string>();
      for (const { delivery, job } of jobs) {
        const doc = docs.get(job.automessageId);
        if (!doc) failures.push(fail(delivery, job, new NotFoundError("AutoMessage not found", "AUTOMESSAGE_NOT_FOUND")));
        else if (doc.isSent || seen.has(doc._id)) {
          // Sent already, or a second copy in this batch: its first copy covers it.
          outcomes.inc({ outcome: "duplicate" });
          delivery.channel.ack(delivery.msg);
        } else {
          seen.add(doc._id);
          toSend.push({ delivery, job, doc });
        }
      }
      if (toSend.length === 0) return;

      let ensured: Array<string | Error>;
      try {
        ensured = await conversations.ensureMany(toSend.map(({ job }) => [job.senderId, job.recipientId]));
      } catch (err) {
        failAll(toSend, err);
        return;
      }
      const sends = toSend.map(async (entry, i) => {
        const conversationId = ensured[i]!;
        if (conversationId instanceof Error) throw conversationId;
        const { record, message } = buildSendRecord({
          senderId: entry.job.senderId,
          conversationId,
          content: entry.job.content,
          clientMsgId: autoClientMsgId(entry.job.automessageId),
          kind: "auto",
        });
        // Rejects with UNAVAILABLE (retriable) when Kafka does not take it in time.
        await producer.send(deps.sendTopic, message);
        return { ...entry, messageId: record.messageId, conversationId };
      });
      const sent: Array<Awaited<(typeof sends)[number]>> = [];
      (await Promise.allSettled(sends)).forEach((r, i) => {
        if (r.status === "fulfilled") sent.push(r.value);
        else failures.push(fail(toSend[i]!.delivery, toSend[i]!.job, r.reason));
      });
      if (sent.length === 0) return;
      failpoint("automessage.after-send");
      try {
        await store.markSentMany(sent.map(({ doc, messageId, conversationId }) => ({ before: doc, messageId, conversationId })));
      } catch (err) {
        // Sent but not marked: a retry sends the same messageId again, which is stored once.
        failAll(sent, dependency(err));
        return;
      }
      for (const { delivery } of sent) delivery.channel.ack(delivery.msg);
      outcomes.inc({ outcome: "sent" }, sent.length);
    } finally {
      await Promise.all(failures);
    }
  }

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    // Every failure is parked inside; nothing is left to do here but say so if that ever breaks.
    const p = handleBatch(batch).catch((err: unknown) => log.error({ err }, "AutoMessage batch failed"));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }

  return {
    async start(): Promise<void> {
      await amqp.onConnect(async (channel) => {
        if (stopping) return;
        const res = await channel.consume(queues.main, (msg) => {
          if (!msg) return;
          pending.push({ channel, msg });
          if (pending.length >= BATCH_MAX) flush();
          else timer ??= setTimeout(flush, BATCH_WAIT_MS);
        });
        consumerTag = res.consumerTag;
      });
    },

    /** Stops taking jobs and lets the ones in hand finish (and be acked). */
    async stop(): Promise<void> {
      stopping = true;
      if (consumerTag) await amqp.channel().cancel(consumerTag).catch(() => undefined);
      flush();
      await Promise.allSettled([...inFlight]);
    },
  };
}
