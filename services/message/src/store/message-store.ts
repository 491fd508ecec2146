import { MongoBulkWriteError, MongoServerError, type Collection, type Db } from "mongodb";
import type { HistoryQuery, StoredMessage } from "@chat/shared/contracts";

export interface MessageDoc {
  _id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  /** `${senderId}\u0000${clientMsgId}`: unique, so a resent message is stored once. */
  dedupeKey: string;
  content: string;
  kind: "user" | "auto";
  sentAt: string;
  createdAt: Date;
  /** The Kafka record it was stored from (`topic:partition:offset`): tells a crash replay from a resend. */
  origin: string;
}

export const dedupeKeyOf = (senderId: string, clientMsgId: string) => `${senderId}\u0000${clientMsgId}`;

export function toStoredMessage(doc: MessageDoc): StoredMessage {
  return {
    messageId: doc._id,
    clientMsgId: doc.clientMsgId,
    conversationId: doc.conversationId,
    senderId: doc.senderId,
    content: doc.content,
    kind: doc.kind,
    seq: doc.seq,
    sentAt: doc.sentAt,
    createdAt: doc.createdAt.toISOString(),
  };
}

export function isDuplicateKey(err: unknown): boolean {
  if (err instanceof MongoBulkWriteError) return err.writeErrors instanceof Array ? err.writeErrors.every((e) => e.code === 11000) : err.code === 11000;
  return err instanceof MongoServerError && err.code === 11000;
}

export function createMessageStore(db: Db) {
  const messages: Collection<MessageDoc> = db.collection<MessageDoc>("messages");

  return {
    async ensureIndexes(): Promise<void> {
      await messages.createIndex({ conversationId: 1, seq: 1 }, { unique: true, name: "conversation_seq_unique" });
      await messages.createIndex({ dedupeKey: 1 }, { unique: true, name: "sender_clientmsg_unique" });
    },

    /** Messages already stored under any of these dedupe keys. */
    findByDedupeKeys(keys: string[]): Promise<MessageDoc[]> {
      if (keys.length === 0) return Promise.resolve([]);
      return messages.find({ dedupeKey: { $in: keys } }).toArray();
    },

    /** Inserts in one round trip; throws (duplicate key) if any seq or dedupe key is taken. */
    async insertMany(docs: MessageDoc[]): Promise<void> {
      if (docs.length > 0) await messages.insertMany(docs, { ordered: true });
    },

    async maxSeq(conversationId: string): Promise<number> {
      const top = await messages.find({ conversationId }).sort({ seq: -1 }).limit(1).project<{ seq: number }>({ seq: 1 }).toArray();
      return top[0]?.seq ?? 0;
    },

    /** History page: after a seq (ascending, catch-up), before a seq, or the latest. Always returned in ascending seq. */
    async history(conversationId: string, q: HistoryQuery): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
      const take = q.limit + 1;
      let docs: MessageDoc[];
      if (q.afterSeq !== undefined) {
        docs = await messages.find({ conversationId, seq: { $gt: q.afterSeq } }).sort({ seq: 1 }).limit(take).toArray();
        const hasMore = docs.length > q.limit;
        return { messages: docs.slice(0, q.limit).map(toStoredMessage), hasMore };
      }
      const filter = q.beforeSeq !== undefined ? { conversationId, seq: { $lt: q.beforeSeq } } : { conversationId };
      docs = await messages.find(filter).sort({ seq: -1 }).limit(take).toArray();
      const hasMore = docs.length > q.limit;
      return { messages: docs.slice(0, q.limit).reverse().map(toStoredMessage), hasMore };
    },
  };
}

export type MessageStore = ReturnType<typeof createMessageStore>;
