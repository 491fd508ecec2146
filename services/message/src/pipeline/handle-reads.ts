import type { MessageRead, RecipientEvent } from "@chat/shared/contracts";
import type { ConversationStore } from "../store/conversation-store.ts";
import type { DeliveryPublisher } from "@chat/shared";

/**
 * `message.read` -> the member's lastReadSeq moves forward (never back, never past the
 * last message) -> a `read` event to every participant's devices (the reader's others too).
 */
export function createReadHandler({ conversations, delivery }: { conversations: ConversationStore; delivery: DeliveryPublisher }) {
  return async (records: MessageRead[]) => {
    const rejected: Array<{ record: MessageRead; reason: string }> = [];
    // The newest receipt per (conversation, member) is all that matters within a batch.
    const latest = new Map<string, MessageRead>();
    for (const r of records) {
      const key = `${r.conversationId}\u0000${r.userId}`;
      const prev = latest.get(key);
      if (!prev || r.seq > prev.seq) latest.set(key, r);
    }
    const convs = new Map((await conversations.findMany([...new Set(records.map((r) => r.conversationId))])).map((c) => [c._id, c]));
    const events: RecipientEvent[] = [];
    for (const r of latest.values()) {
      const conv = convs.get(r.conversationId);
      if (!conv || !conv.participantIds.includes(r.userId)) {
        rejected.push({ record: r, reason: conv ? "NOT_A_MEMBER" : "CONVERSATION_NOT_FOUND" });
        continue;
      }
      const seq = Math.min(r.seq, conv.lastSeq);
      if (!(await conversations.markRead(r.conversationId, r.userId, seq))) continue;
      for (const recipientId of conv.participantIds) {
        events.push({ v: 1, type: "read", recipientId, conversationId: r.conversationId, userId: r.userId, seq });
      }
    }
    await delivery.publish(events);
    return rejected;
  };
}
