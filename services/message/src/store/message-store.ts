import { MongoBulkWriteError, MongoServerError, type Collection, type Db } from "mongodb";
import type { HistoryQuery, StoredMessage } from "@chat/shared/contracts";

/**
 * One stored message. Every read is a key lookup, on MongoDB and on the Mongo-wire stand-in
 * alike (which uses an index only for plain equality or `$in` on one unique field):
 * - `_id` is the messageId, itself derived from (senderId, clientMsgId): a resend or a replay
 *   is found by `_id $in [...]`, and a second insert of it is refused;
 * - `slot` is `${conversationId}#${seq}`, unique: a history page is `slot $in [...]` of the
 *   seqs it covers, computed from the conversation's `lastSeq` (seqs are contiguous), and two
 *   writers can never give one seq to two messages.
 */
export interface MessageDoc {
  _id: string;
  conversationId: string;
  seq: number;
  slot: string;
  senderId: string;
  clientMsgId: string;
  content: string;
  kind: "user" | "auto";
  sentAt: string;
  createdAt: Date;
  /** The Kafka record it was stored from (`topic:partition:offset`): tells a crash replay from a resend. */
  origin: string;
}

export const slotOf = (conversationId: string, seq: number) => `${conversationId}#${seq}`;

/** The stored form of a sent message at `seq`; `origin` is the Kafka record it came from. */
export function messageDocOf(
  record: Pick<MessageDoc, "conversationId" | "senderId" | "clientMsgId" | "content" | "kind" | "sentAt"> & { messageId: string },
  seq: number,
  origin: string,
  createdAt: Date,
): MessageDoc {
  return {
    _id: record.messageId,
    conversationId: record.conversationId,
    seq,
    slot: slotOf(record.conversationId, seq),
    senderId: record.senderId,
    clientMsgId: record.clientMsgId,
    content: record.content,
    kind: record.kind,
    sentAt: record.sentAt,
    createdAt,
    origin,
  };
}

/** Seqs probed past a conversation's `lastSeq` at once: messages stored by a writer that crashed before advancing it. */
const PROBE_AHEAD = 64;

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

  /** The stored messages of these seq ranges (inclusive; empty ranges allowed), in one `slot $in`. */
  const bySlots = (conversationId: string, ...ranges: Array<[from: number, to: number]>): Promise<MessageDoc[]> => {
    const slots = new Set<string>();
    for (const [from, to] of ranges) for (let seq = Math.max(1, from); seq <= to; seq++) slots.add(slotOf(conversationId, seq));
    return slots.size === 0 ? Promise.resolve([]) : messages.find({ slot: { $in: [...slots] } }).toArray();
  };

  /** The highest stored seq: `lastSeq`, or beyond it when a writer stored more before it crashed. */
  async function storedMax(conversationId: string, lastSeq: number): Promise<number> {
    let max = lastSeq;
    for (;;) {
      const ahead = await bySlots(conversationId, [max + 1, max + PROBE_AHEAD]);
      if (ahead.length === 0) return max;
      max = Math.max(...ahead.map((d) => d.seq));
    }
  }

  return {
    async ensureIndexes(): Promise<void> {
      await messages.createIndex({ slot: 1 }, { unique: true, name: "slot_unique" });
    },

    /**
     * Gives messages stored before slots existed their slot, and drops the old dedupe index
     * (its field is gone, and a unique index over a missing field refuses the second message).
     * One pass over the collection, once per database: a marker records that it ran.
     */
    async migrateSlots(): Promise<number> {
      const marker = db.collection<{ _id: string; at: Date }>("migrations");
      if (await marker.findOne({ _id: "messages.slot.v1" })) return 0;
      await messages.dropIndex("sender_clientmsg_unique").catch(() => undefined);
      let n = 0;
      let batch: Array<{ updateOne: { filter: { _id: string }; update: { $set: { slot: string } } } }> = [];
      for await (const doc of messages.find({ slot: { $exists: false } })) {
        batch.push({ updateOne: { filter: { _id: doc._id }, update: { $set: { slot: slotOf(doc.conversationId, doc.seq) } } } });
        if (batch.length === 500) {
          await messages.bulkWrite(batch, { ordered: false });
          n += batch.length;
          batch = [];
        }
      }
      if (batch.length > 0) await messages.bulkWrite(batch, { ordered: false });
      n += batch.length;
      await marker.updateOne({ _id: "messages.slot.v1" }, { $set: { at: new Date() } }, { upsert: true });
      return n;
    },

    /** Messages already stored under any of these ids (resends and replays). */
    findByIds(ids: string[]): Promise<MessageDoc[]> {
      if (ids.length === 0) return Promise.resolve([]);
      return messages.find({ _id: { $in: ids } }).toArray();
    },

    /** Inserts in one round trip; throws (duplicate key) if any id or slot is taken. */
    async insertMany(docs: MessageDoc[]): Promise<void> {
      if (docs.length > 0) await messages.insertMany(docs, { ordered: true });
    },

    /** The highest stored seq of a conversation whose `lastSeq` is known. */
    maxSeq: storedMax,

    /**
     * History page: after a seq (ascending, catch-up), before a seq, or the latest. Always in
     * ascending seq. Seqs are contiguous, so the page's slots are computed, not searched.
     */
    async history(conversation: { _id: string; lastSeq: number }, q: HistoryQuery): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
      const id = conversation._id;
      const pageBelow = (top: number): [number, number] => {
        if (q.afterSeq !== undefined) return [q.afterSeq + 1, Math.min(top, q.afterSeq + q.limit)];
        const to = Math.min(top, (q.beforeSeq ?? top + 1) - 1);
        return [Math.max(1, to - q.limit + 1), to];
      };
      // One round trip as a rule: the page as `lastSeq` places it, and the slots just past
      // `lastSeq` in the same query. Only if a writer stored more than `lastSeq` says (it
      // crashed before advancing it) is the page placed again from the real top.
      let top = conversation.lastSeq;
      let [from, to] = pageBelow(top);
      const found = await bySlots(id, [from, to], [top + 1, top + PROBE_AHEAD]);
      let docs = found.filter((d) => d.seq >= from && d.seq <= to);
      const ahead = found.filter((d) => d.seq > top);
      if (ahead.length > 0) {
        top = await storedMax(id, Math.max(...ahead.map((d) => d.seq)));
        [from, to] = pageBelow(top);
        docs = await bySlots(id, [from, to]);
      }
      docs.sort((a, b) => a.seq - b.seq);
      const hasMore = q.afterSeq !== undefined ? to < top : from > 1;
      return { messages: docs.map(toStoredMessage), hasMore };
    },
  };
}

export type MessageStore = ReturnType<typeof createMessageStore>;
