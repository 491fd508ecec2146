import { MongoBulkWriteError, type Collection, type Db } from "mongodb";
import { isDuplicateKey } from "@chat/shared";
import type { HistoryQuery, MessageChange, StoredMessage } from "@chat/shared/contracts";

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
  /** How many messages the conversation has up to this one (edits and deletes not counted); absent on older ones, where it is `seq`. */
  n?: number;
  /** Set by an edit, with the new content. */
  editedAt?: string;
  /** Set by a delete; the content is emptied then. */
  deletedAt?: string;
}

/**
 * An edit or a delete, in the same collection as the messages: it takes its own `slot` (its
 * seq), so a history page or a resume covers it like any message. `_id` is the change's id.
 */
export interface ChangeDoc {
  _id: string;
  conversationId: string;
  seq: number;
  slot: string;
  change: "edited" | "deleted";
  messageId: string;
  messageSeq: number;
  actorId: string;
  /** The new content of an edit. */
  content?: string;
  at: string;
  createdAt: Date;
  origin: string;
  /** The conversation's message count at this point (unchanged by the change itself). */
  n: number;
}

/** Whatever sits at a slot of a conversation's sequence. */
export type EntryDoc = MessageDoc | ChangeDoc;

export const isChange = (doc: EntryDoc): doc is ChangeDoc => "change" in doc && doc.change !== undefined;

/** The message count up to and including an entry. */
export const ordinalOf = (doc: EntryDoc): number => doc.n ?? doc.seq;

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
/**
 * Seqs a history page probes past `lastSeq` in its own query. Leftovers of a crashed writer are
 * rare and, when there are any, the first of them is at `lastSeq + 1`: a few keys find them
 * (and `storedMax` then finds them all), where 64 made every page look up 114 keys for 50.
 */
const PAGE_PROBE = 4;

export function toStoredMessage(doc: MessageDoc): StoredMessage {
  return {
    messageId: doc._id,
    clientMsgId: doc.clientMsgId,
    conversationId: doc.conversationId,
    senderId: doc.senderId,
    content: doc.deletedAt ? "" : doc.content,
    kind: doc.kind,
    seq: doc.seq,
    sentAt: doc.sentAt,
    createdAt: doc.createdAt.toISOString(),
    ...(doc.editedAt ? { editedAt: doc.editedAt } : {}),
    ...(doc.deletedAt ? { deletedAt: doc.deletedAt } : {}),
  };
}

export function toMessageChange(doc: ChangeDoc): MessageChange {
  const base = { conversationId: doc.conversationId, seq: doc.seq, messageId: doc.messageId, messageSeq: doc.messageSeq, actorId: doc.actorId };
  return doc.change === "edited" ? { type: "edited", ...base, content: doc.content ?? "", editedAt: doc.at } : { type: "deleted", ...base, deletedAt: doc.at };
}

/** What a change does to the message it changes. */
export function changedFields(change: MessageChange): { content: string; editedAt: string } | { content: string; deletedAt: string } {
  return change.type === "edited" ? { content: change.content, editedAt: change.editedAt } : { content: "", deletedAt: change.deletedAt };
}

export function createMessageStore(db: Db) {
  const messages: Collection<EntryDoc> = db.collection<EntryDoc>("messages");

  /** The entries stored at these slots, in one `slot $in` (the one way entries are read besides `_id`). */
  const atSlots = (slots: Iterable<string>): Promise<EntryDoc[]> => {
    const unique = [...new Set(slots)];
    return unique.length === 0 ? Promise.resolve([]) : messages.find({ slot: { $in: unique } }).toArray();
  };

  /** The stored entries of these seq ranges of a conversation (inclusive; empty ranges allowed). */
  const bySlots = (conversationId: string, ...ranges: Array<[from: number, to: number]>): Promise<EntryDoc[]> => {
    const slots: string[] = [];
    for (const [from, to] of ranges) for (let seq = Math.max(1, from); seq <= to; seq++) slots.push(slotOf(conversationId, seq));
    return atSlots(slots);
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

  /** The message count at each of these seqs (0 at seq 0), by slot. */
  async function ordinalsAt(points: Array<{ conversationId: string; seq: number }>): Promise<Map<string, number>> {
    const found = await atSlots(points.filter((p) => p.seq > 0).map((p) => slotOf(p.conversationId, p.seq)));
    const bySlot = new Map(found.map((d) => [d.slot, ordinalOf(d)]));
    return new Map(points.map((p) => [slotOf(p.conversationId, p.seq), p.seq === 0 ? 0 : (bySlot.get(slotOf(p.conversationId, p.seq)) ?? p.seq)]));
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
      for await (const doc of messages.find({ slot: { $exists: false } }) as AsyncIterable<MessageDoc>) {
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

    /** Entries already stored under any of these ids: resends and replays, and the messages changes target. */
    findByIds(ids: string[]): Promise<EntryDoc[]> {
      if (ids.length === 0) return Promise.resolve([]);
      return messages.find({ _id: { $in: ids } }).toArray();
    },

    /** One stored message of a conversation, by id (an edit's or a delete's target); null if unknown. */
    async findMessage(conversationId: string, messageId: string): Promise<MessageDoc | null> {
      const doc = await messages.findOne({ _id: messageId });
      return doc && !isChange(doc) && doc.conversationId === conversationId ? doc : null;
    },

    /**
     * Inserts in one round trip, all or none: if an id or a slot is taken, the documents this
     * call stored before it are removed again (by `_id`; no delivery event names them yet) and
     * the duplicate-key error is thrown, so a retry lays the batch out again from scratch.
     */
    async insertAllOrNone(docs: EntryDoc[]): Promise<void> {
      if (docs.length === 0) return;
      try {
        await messages.insertMany(docs, { ordered: true });
      } catch (err) {
        // Ordered: everything before the first refused document was stored, nothing after it.
        const stored = err instanceof MongoBulkWriteError && isDuplicateKey(err) ? Math.min(...[err.writeErrors].flat().map((e) => e.index)) : 0;
        if (stored > 0) await messages.deleteMany({ _id: { $in: docs.slice(0, stored).map((d) => d._id) } });
        throw err;
      }
    },

    /** Applies changes to the messages they target, in order, by `_id` alone (anything more makes the stand-in scan). */
    async applyChanges(changes: MessageChange[]): Promise<void> {
      if (changes.length === 0) return;
      await messages.bulkWrite(
        changes.map((change) => ({ updateOne: { filter: { _id: change.messageId }, update: { $set: changedFields(change) } } })),
        { ordered: true },
      );
    },

    /** The highest stored seq of a conversation whose `lastSeq` is known. */
    maxSeq: storedMax,

    /** The stored entry at a seq (the message count there, after a writer's crash). */
    async entryAt(conversationId: string, seq: number): Promise<EntryDoc | null> {
      return seq < 1 ? null : messages.findOne({ slot: slotOf(conversationId, seq) });
    },

    ordinalsAt,

    /** The messages at these slots (search hits), by key. */
    async messagesAt(slots: string[]): Promise<MessageDoc[]> {
      return (await atSlots(slots)).filter((d): d is MessageDoc => !isChange(d));
    },

    /**
     * History page: after a seq (ascending, catch-up), before a seq, or the latest. Always in
     * ascending seq. Seqs are contiguous, so the page's slots are computed, not searched.
     */
    async history(
      conversation: { _id: string; lastSeq: number },
      q: HistoryQuery,
    ): Promise<{ messages: StoredMessage[]; changes: MessageChange[]; hasMore: boolean }> {
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
      const found = await bySlots(id, [from, to], [top + 1, top + PAGE_PROBE]);
      let docs = found.filter((d) => d.seq >= from && d.seq <= to);
      const ahead = found.filter((d) => d.seq > top);
      if (ahead.length > 0) {
        top = await storedMax(id, Math.max(...ahead.map((d) => d.seq)));
        [from, to] = pageBelow(top);
        docs = await bySlots(id, [from, to]);
      }
      docs.sort((a, b) => a.seq - b.seq);
      const hasMore = q.afterSeq !== undefined ? to < top : from > 1;
      const entries = { messages: [] as StoredMessage[], changes: [] as MessageChange[] };
      for (const doc of docs) {
        if (isChange(doc)) entries.changes.push(toMessageChange(doc));
        else entries.messages.push(toStoredMessage(doc));
      }
      return { ...entries, hasMore };
    },
  };
}

export type MessageStore = ReturnType<typeof createMessageStore>;
