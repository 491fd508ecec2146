import type { Consumer } from "kafkajs";
import { sleep, type Logger } from "@chat/shared";
import { deliveryEventSchema, type DeliveryEvent } from "@chat/shared/contracts";
import type { GatewayMetrics } from "../gateway-metrics.ts";
import { deliverEntry, type LocalSessions } from "../connection/sessions.ts";
import type { PresenceOrder } from "../presence/presence-order.ts";

/**
 * Hands one delivery event to the recipient's devices on this gateway. A presence change older
 * than one `presenceOrder` has already let through is dropped.
 */
export function dispatchDelivery(event: DeliveryEvent, sessions: LocalSessions, presenceOrder: PresenceOrder, metrics?: Pick<GatewayMetrics, "messageDelivered">): void {
  switch (event.type) {
    case "message": {
      let devices = 0;
      for (const s of sessions.ofUser(event.recipientId)) {
        deliverEntry(s, event.message);
        devices++;
      }
      metrics?.messageDelivered(event.message, devices);
      return;
    }
    case "change":
      for (const s of sessions.ofUser(event.recipientId)) deliverEntry(s, event.change);
      return;
    case "read":
      for (const s of sessions.ofUser(event.recipientId)) {
        s.emit("message_read", { conversationId: event.conversationId, userId: event.userId, seq: event.seq });
      }
      return;
    case "typing":
      // Typing is scoped to the devices that joined the conversation's room.
      for (const s of sessions.ofUser(event.recipientId)) {
        if (s.rooms.has(event.conversationId)) {
          s.emit("typing", { conversationId: event.conversationId, userId: event.userId, isTyping: event.isTyping });
        }
      }
      return;
    case "presence":
      if (!presenceOrder.admit(event.userId, event.version)) return;
      for (const s of sessions.ofUser(event.recipientId)) s.emit(event.online ? "user_online" : "user_offline", { userId: event.userId });
      return;
    case "push":
      for (const s of sessions.ofUser(event.recipientId)) s.emit("push", { event: event.event, data: event.data });
      return;
    case "broadcast":
      for (const s of sessions.all()) s.emit("push", { event: event.event, data: event.data });
      return;
    default: {
      const unreachable: never = event;
      throw new Error(`unhandled delivery event ${JSON.stringify(unreachable)}`);
    }
  }
}

/** How often a gateway commits how far it has delivered. */
const COMMIT_INTERVAL_MS = 1000;

/**
 * Commits how far each partition has been handed out, once a second and only when it moved,
 * instead of after every partition's batch (kafkajs's autoCommit: 3 commits per fetch, most of
 * a gateway's Kafka requests under load). A restart reads again what came after the last
 * commit; a device that resumes has those seqs already and is not shown them twice, and
 * clients de-duplicate by messageId. A failed commit is tried again the next second.
 */
function commitEverySecond(consumer: Consumer, topic: string, logger: Logger) {
  const handedOut = new Map<number, string>();
  const committed = new Map<number, string>();
  const timer = setInterval(() => {
    const offsets = [...handedOut].filter(([partition, offset]) => committed.get(partition) !== offset).map(([partition, offset]) => ({ topic, partition, offset }));
    if (offsets.length === 0) return;
    consumer.commitOffsets(offsets).then(
      () => offsets.forEach((o) => committed.set(o.partition, o.offset)),
      (err: unknown) => logger.debug({ err, topic }, "delivery offsets not committed yet"),
    );
  }, COMMIT_INTERVAL_MS);
  timer.unref();
  consumer.on(consumer.events.DISCONNECT, () => clearInterval(timer));
  return {
    /** Everything up to `offset` of `partition` has been handed to the devices. */
    delivered(partition: number, offset: string): void {
      handedOut.set(partition, (BigInt(offset) + 1n).toString());
    },
  };
}

export interface DeliveryConsumerDeps {
  topic: string;
  sessions: LocalSessions;
  logger: Logger;
  metrics: GatewayMetrics;
  /** The topic's partitions: a fetch's batches are all handed out side by side, so they linger together. */
  partitions: number;
  /** This gateway's memory of each user's newest presence change: one for every life of the consumer, so a replay after a restart cannot undo a newer change. */
  presenceOrder: PresenceOrder;
  /** A pause after a fetch's events are handed out, before the next fetch (KAFKA_FETCH_LINGER_MS). @default 0 */
  lingerMs?: number;
}

/**
 * Reads this gateway's own delivery topic (and nothing else): its delivery work grows
 * with its own users, not with the number of gateways.
 */
export async function runDeliveryConsumer(consumer: Consumer, { topic, partitions, sessions, logger, metrics, presenceOrder, lingerMs = 0 }: DeliveryConsumerDeps): Promise<void> {
  // A gateway's group has committed offsets from its first event on; `fromBeginning` only
  // matters when an offset is missing or out of range, and then a replay (which devices
  // de-duplicate by messageId) beats skipping to the end and losing what was in between.
  await consumer.subscribe({ topic, fromBeginning: true });
  const commits = commitEverySecond(consumer, topic, logger);
  await consumer.run({
    partitionsConsumedConcurrently: partitions,
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      for (const message of batch.messages) {
        const parsed = (() => {
          try {
            return deliveryEventSchema.safeParse(JSON.parse(String(message.value)));
          } catch {
            return undefined;
          }
        })();
        if (parsed?.success) {
          metrics.consumed.inc({ type: parsed.data.type });
          dispatchDelivery(parsed.data, sessions, presenceOrder, metrics);
        } else {
          metrics.consumed.inc({ type: "invalid" });
          logger.warn({ topic, offset: message.offset }, "invalid delivery event skipped");
        }
      }
      // Dispatch is synchronous: the whole batch is handed out once the loop ends.
      const last = batch.messages.at(-1);
      if (last) {
        resolveOffset(last.offset);
        commits.delivered(batch.partition, last.offset);
        // kafkajs fetches again only once every batch of the last fetch is through here: the
        // next fetch brings what came meanwhile (fewer requests per event, at most lingerMs later).
        if (lingerMs > 0) await sleep(lingerMs);
      }
      await heartbeat();
    },
  });
}
