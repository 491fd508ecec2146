import type { Producer } from "kafkajs";
import { sendBatchUntil } from "@chat/shared";
import type { StoredEvent } from "@chat/shared/contracts";

/**
 * Writes `message.stored`: one record per stored message, edit and delete, keyed by
 * conversation, durable (acks from every in-sync replica) when it resolves, or failing after
 * `sendTimeoutMs` of leader elections (then the batch is read again, and written again).
 */
export function createStoredPublisher({ producer, topic, sendTimeoutMs = 30_000 }: { producer: Producer; topic: string; sendTimeoutMs?: number }) {
  return async (events: StoredEvent[]): Promise<void> => {
    if (events.length === 0) return;
    const messages = events.map((e) => ({
      key: e.type === "message" ? e.message.conversationId : e.change.conversationId,
      value: JSON.stringify(e),
      headers: { v: "1", type: e.type === "message" ? "message" : e.change.type },
    }));
    await sendBatchUntil(producer, { acks: -1, topicMessages: [{ topic, messages }] }, Date.now() + sendTimeoutMs);
  };
}
