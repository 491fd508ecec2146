import type { MessageSend, StoredMessage } from "@chat/shared/contracts";
import type { ConversationDoc, ConversationStore } from "../store/conversation-store.ts";
import { isDuplicateKey, messageDocOf, toStoredMessage, type MessageDoc, type MessageStore } from "../store/message-store.ts";

export interface Rejected {
  record: MessageSend;
  reason: "CONVERSATION_NOT_FOUND" | "NOT_A_MEMBER" | "CONTENT_TOO_LONG";
}

export interface PersistResult {
  /** Messages to deliver, in Kafka order: new ones, and stored ones whose Kafka record is being replayed. */
  toDeliver: Array<{ message: StoredMessage; participantIds: string[] }>;
  /** How many records were already stored and delivered (resends, redeliveries). */
  duplicates: number;
  rejected: Rejected[];
}

export interface PersistDeps {
  conversations: ConversationStore;
  messages: MessageStore;
  maxContentLength: number;
}

const MAX_ATTEMPTS = 5;

/**
 * Stores a batch of `message.send` records (Kafka order within each conversation) with
 * one read of their conversations, one dedupe lookup and one insert. `seq` continues from
 * the conversation's `lastSeq`; if another writer got there first (a zombie consumer
 * during a rebalance, or a crash between insert and `advance`), the unique
 * (conversationId, seq) index refuses the insert and we recompute from the stored maximum.
 */
export async function persistMessages(records: MessageSend[], origins: string[], deps: PersistDeps): Promise<PersistResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await persistOnce(records, origins, deps, attempt > 1);
    } catch (err) {
      if (!isDuplicateKey(err) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

async function persistOnce(records: MessageSend[], origins: string[], deps: PersistDeps, fromStoredMax: boolean): Promise<PersistResult> {
  const { conversations, messages, maxContentLength } = deps;
  const convIds = [...new Set(records.map((r) => r.conversationId))];
  const convById = new Map<string, ConversationDoc>((await conversations.findMany(convIds)).map((c) => [c._id, c]));

  const rejected: Rejected[] = [];
  const accepted: MessageSend[] = [];
  const originOf = new Map(records.map((r, i) => [r, origins[i]!]));
  for (const record of records) {
    const conv = convById.get(record.conversationId);
    if (!conv) rejected.push({ record, reason: "CONVERSATION_NOT_FOUND" });
    else if (!conv.participantIds.includes(record.senderId)) rejected.push({ record, reason: "NOT_A_MEMBER" });
    else if (record.content.length > maxContentLength) rejected.push({ record, reason: "CONTENT_TOO_LONG" });
    else accepted.push(record);
  }

  // A record's messageId is derived from (senderId, clientMsgId): the same id means the same send.
  const existing = new Map<string, MessageDoc>((await messages.findByIds([...new Set(accepted.map((r) => r.messageId))])).map((d) => [d._id, d]));

  const nextSeq = new Map<string, number>();
  for (const id of convIds) {
    const conv = convById.get(id);
    if (!conv) continue;
    nextSeq.set(id, (fromStoredMax ? await messages.maxSeq(id, conv.lastSeq) : conv.lastSeq) + 1);
  }

  const now = new Date();
  const seen = new Set<string>();
  const fresh: MessageDoc[] = [];
  const toDeliver: PersistResult["toDeliver"] = [];
  let duplicates = 0;
  for (const record of accepted) {
    const key = record.messageId;
    const participantIds = convById.get(record.conversationId)!.participantIds;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    const stored = existing.get(key);
    if (stored) {
      // The same Kafka record again means a replay after a crash, possibly before its delivery
      // events were written: deliver again (clients de-duplicate by messageId). Another record
      // is a resend: already delivered the first time. A clientMsgId reused in another
      // conversation is the sender's bug: nothing of the first message may leak here.
      if (stored.origin === originOf.get(record) && stored.conversationId === record.conversationId) {
        toDeliver.push({ message: toStoredMessage(stored), participantIds });
      } else duplicates++;
      continue;
    }
    const seq = nextSeq.get(record.conversationId)!;
    nextSeq.set(record.conversationId, seq + 1);
    const doc = messageDocOf(record, seq, originOf.get(record)!, now);
    fresh.push(doc);
    toDeliver.push({ message: toStoredMessage(doc), participantIds });
  }

  await messages.insertMany(fresh);

  const lastByConversation = new Map<string, StoredMessage>();
  for (const doc of fresh) lastByConversation.set(doc.conversationId, toStoredMessage(doc));
  await conversations.advance([...lastByConversation.values()]);

  return { toDeliver, duplicates, rejected };
}
