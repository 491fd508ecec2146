import type { MessageRead, RecipientEvent } from "@chat/shared/contracts";
import type { ConversationStore } from "../store/conversation-store.ts";
import { slotOf, type MessageStore } from "../store/message-store.ts";
import type { DeliveryPublisher } from "@chat/shared";

/**
 * `message.read` -> the member's read state moves forward (never back, never past the last
 * entry), with the message count at that seq so unread counts leave edits and deletes out ->
 * a `read` event to every participant's devices (the reader's others too).
 */
export function createReadHandler({ conversations, messages, delivery }: { conversations: ConversationStore; messages: MessageStore; delivery: DeliveryPublisher }) {
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
    const reads: Array<{ read: MessageRead; seq: number; participantIds: string[] }> = [];
    for (const r of latest.values()) {
      const conv = convs.get(r.conversationId);
      if (!conv || !conv.participantIds.includes(r.userId)) {
        rejected.push({ record: r, reason: conv ? "NOT_A_MEMBER" : "CONVERSATION_NOT_FOUND" });
        continue;
      }
      reads.push({ read: r, seq: Math.min(r.seq, conv.lastSeq), participantIds: conv.participantIds });
    }
    const counts = await messages.ordinalsAt(reads.map(({ read, seq }) => ({ conversationId: read.conversationId, seq })));
    const events: RecipientEvent[] = [];
    for (const { read: r, seq, participantIds } of reads) {
      if (!(await conversations.markRead(r.conversationId, r.userId, seq, counts.get(slotOf(r.conversationId, seq)) ?? seq))) continue;
      for (const recipientId of participantIds) {
        events.push({ v: 1, type: "read", recipientId, conversationId: r.conversationId, userId: r.userId, seq });
      }
    }
    await delivery.publish(events);
    return rejected;
  };
}
