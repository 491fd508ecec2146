import type { TopicMessages } from "kafkajs";
import type { StoredEvent } from "@chat/shared/contracts";

/**
 * The `message.stored` records of a batch: one per stored message, edit and delete, keyed by
 * conversation. They go to Kafka in the same produce request as the batch's delivery events
 * (one request, one wait for the in-sync replicas), before the batch's offsets move.
 */
export function storedRecords(topic: string, events: StoredEvent[]): TopicMessages[] {
  if (events.length === 0) return [];
  const messages = events.map((e) => ({
    key: e.message.conversationId,
    value: JSON.stringify(e),
    headers: { v: "1", type: e.type === "message" ? "message" : e.change.type },
  }));
  return [{ topic, messages }];
}
