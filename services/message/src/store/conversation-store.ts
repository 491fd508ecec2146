import { createHash } from "node:crypto";
import { MongoBulkWriteError, type Collection, type Db } from "mongodb";
import { isDuplicateKey } from "@chat/shared";
import type { Conversation } from "@chat/shared/contracts";

export interface ConversationDoc {
  _id: string;
  type: "direct" | "group";
  title: string | null;
  participantIds: string[];
  /** Highest seq allocated, to a message, an edit or a delete. */
  lastSeq: number;
  /** Messages sent (edits and deletes not counted); absent on older conversations, where it is `lastSeq`. Unread = this - member's lastReadCount. */
  messageCount?: number;
  lastMessage: LastMessage | null;
  createdBy: string;
  createdAt: Date;
  lastActivityAt: Date;
}

export interface LastMessage {
  messageId: string;
  senderId: string;
  content: string;
  seq: number;
  sentAt: string;
  editedAt?: string;
  deletedAt?: string;
}

/** How a batch moved a conversation forward. */
export interface ConversationAdvance {
  conversationId: string;
  lastSeq: number;
  messageCount: number;
  /** Set when the batch sent a message or changed the last one. */
  lastMessage?: LastMessage;
  /** The newest message's time, when the batch sent one. */
  lastActivityAt?: Date;
}

/** Which conversations a user is in: the one key a conversation list or a contact list starts from. */
export interface InboxDoc {
  _id: string;
  conversationIds: string[];
}

/** Per-member read state, one document per (conversation, member). */
export interface MemberDoc {
  _id: string;
  conversationId: string;
  userId: string;
  lastReadSeq: number;
  /** The conversation's message count at lastReadSeq; absent on older read states, where it is lastReadSeq. */
  lastReadCount?: number;
}

const memberId = (conversationId: string, userId: string) => `${conversationId}:${userId}`;

/** A direct conversation's id is derived from its pair, so creating it twice (even concurrently) finds one. */
export function directConversationId(a: string, b: string): string {
  const [x, y] = [a, b].sort();
  return `d-${createHash("sha256").update(`${x}\u0000${y}`).digest("base64url").slice(0, 32)}`;
}

const LAST_MESSAGE_PREVIEW = 200;

/** A conversation's last message as it is stored: its content cut to a preview. */
const previewOf = (m: LastMessage): LastMessage => ({ ...m, content: m.content.slice(0, LAST_MESSAGE_PREVIEW) });

/** What `advance` makes of a stored conversation, computed in memory. */
export function advancedConversation(doc: ConversationDoc, a: ConversationAdvance): ConversationDoc {
  return {
    ...doc,
    lastSeq: Math.max(doc.lastSeq, a.lastSeq),
    messageCount: doc.messageCount === undefined ? a.messageCount : Math.max(doc.messageCount, a.messageCount),
    ...(a.lastActivityAt && a.lastActivityAt > doc.lastActivityAt ? { lastActivityAt: a.lastActivityAt } : {}),
    ...(a.lastMessage ? { lastMessage: previewOf(a.lastMessage) } : {}),
  };
}

export function createConversationStore(db: Db) {
  const conversations: Collection<ConversationDoc> = db.collection<ConversationDoc>("conversations");
  const members: Collection<MemberDoc> = db.collection<MemberDoc>("conversation_members");
  const inboxes: Collection<InboxDoc> = db.collection<InboxDoc>("user_conversations");

  /** Members' read state and inbox entries: idempotent upserts, so a retry after a crash completes them. */
  async function addMembers(...docs: ConversationDoc[]): Promise<void> {
    const pairs = docs.flatMap((doc) => doc.participantIds.map((userId) => ({ conversationId: doc._id, userId })));
    if (pairs.length === 0) return;
    await Promise.all([
      members.bulkWrite(
        pairs.map(({ conversationId, userId }) => ({
          updateOne: {
            filter: { _id: memberId(conversationId, userId) },
            update: { $setOnInsert: { conversationId, userId, lastReadSeq: 0 } },
            upsert: true,
          },
        })),
        { ordered: false },
      ),
      inboxes.bulkWrite(
        pairs.map(({ conversationId, userId }) => ({
          updateOne: { filter: { _id: userId }, update: { $addToSet: { conversationIds: conversationId } }, upsert: true },
        })),
        { ordered: false },
      ),
    ]);
  }

  /** The conversations of a user, by key: their inbox, then each conversation by `_id`. */
  async function conversationsOf(userId: string): Promise<ConversationDoc[]> {
    const inbox = await inboxes.findOne({ _id: userId });
    if (!inbox || inbox.conversationIds.length === 0) return [];
    return conversations.find({ _id: { $in: inbox.conversationIds } }).toArray();
  }

  function toConversation(doc: ConversationDoc, member: Pick<MemberDoc, "lastReadSeq" | "lastReadCount"> | undefined): Conversation {
    const lastReadSeq = member?.lastReadSeq ?? 0;
    const readCount = member?.lastReadCount ?? lastReadSeq;
    return {
      id: doc._id,
      type: doc.type,
      title: doc.title,
      participantIds: doc.participantIds,
      lastSeq: doc.lastSeq,
      lastMessage: doc.lastMessage,
      lastReadSeq,
      unreadCount: Math.max(0, (doc.messageCount ?? doc.lastSeq) - readCount),
      createdAt: doc.createdAt.toISOString(),
      lastActivityAt: doc.lastActivityAt.toISOString(),
    };
  }

  return {
    /** Every query here is by `_id` (conversations, members, inboxes): no secondary index is needed. */
    async ensureIndexes(): Promise<void> {},

    /**
     * Builds the inboxes of conversations stored before inboxes existed (one pass over the
     * collection, once per database: a marker records that it ran).
     */
    async migrateInboxes(): Promise<number> {
      const marker = db.collection<{ _id: string; at: Date }>("migrations");
      if (await marker.findOne({ _id: "user_conversations.v1" })) return 0;
      let n = 0;
      for await (const doc of conversations.find({})) {
        await addMembers(doc);
        n++;
      }
      await marker.updateOne({ _id: "user_conversations.v1" }, { $set: { at: new Date() } }, { upsert: true });
      return n;
    },

    /** Inserts unless it exists; returns the stored one and whether this call created it. */
    async create(doc: ConversationDoc): Promise<{ conversation: ConversationDoc; created: boolean }> {
      try {
        await conversations.insertOne(doc);
      } catch (err) {
        if (isDuplicateKey(err)) {
          const existing = await conversations.findOne({ _id: doc._id });
          if (existing) {
            // A crash between the insert and the member writes heals here, on the retry.
            await addMembers(existing);
            return { conversation: existing, created: false };
          }
        }
        throw err;
      }
      await addMembers(doc);
      return { conversation: doc, created: true };
    },

    /**
     * Inserts the ones that do not exist yet, in one round trip (a taken `_id` is someone
     * else's create of the same direct pair), then their members and inboxes in two.
     * @returns the ids this call created
     */
    async createMany(docs: ConversationDoc[]): Promise<Set<string>> {
      if (docs.length === 0) return new Set();
      let created = new Set(docs.map((d) => d._id));
      try {
        await conversations.insertMany(docs, { ordered: false });
      } catch (err) {
        if (!(err instanceof MongoBulkWriteError) || !isDuplicateKey(err)) throw err;
        const lost = new Set([err.writeErrors].flat().map((e) => e.index));
        created = new Set(docs.filter((_, i) => !lost.has(i)).map((d) => d._id));
      }
      // Everyone's, not only ours: a crash between another create's insert and its members heals here.
      await addMembers(...docs);
      return created;
    },

    findById(id: string): Promise<ConversationDoc | null> {
      return conversations.findOne({ _id: id });
    },

    findMany(ids: string[]): Promise<ConversationDoc[]> {
      return conversations.find({ _id: { $in: ids } }).toArray();
    },

    /** Distinct co-participants of every conversation of each user: two key lookups for them all. */
    async contactsOfMany(userIds: string[]): Promise<Map<string, string[]>> {
      const inboxDocs = await inboxes.find({ _id: { $in: userIds } }).toArray();
      const conversationIds = [...new Set(inboxDocs.flatMap((i) => i.conversationIds))];
      const docs = conversationIds.length > 0 ? await conversations.find({ _id: { $in: conversationIds } }).toArray() : [];
      const byId = new Map(docs.map((d) => [d._id, d]));
      const contacts = new Map<string, string[]>(userIds.map((u) => [u, []]));
      for (const inbox of inboxDocs) {
        const ids = new Set<string>();
        for (const id of inbox.conversationIds) for (const p of byId.get(id)?.participantIds ?? []) if (p !== inbox._id) ids.add(p);
        contacts.set(inbox._id, [...ids]);
      }
      return contacts;
    },

    async listFor(userId: string, limit: number): Promise<Conversation[]> {
      const docs = (await conversationsOf(userId)).sort((a, b) => b.lastActivityAt.getTime() - a.lastActivityAt.getTime()).slice(0, limit);
      if (docs.length === 0) return [];
      const reads = await members.find({ _id: { $in: docs.map((d) => memberId(d._id, userId)) } }).toArray();
      const readState = new Map(reads.map((m) => [m.conversationId, m]));
      return docs.map((d) => toConversation(d, readState.get(d._id)));
    },

    async view(doc: ConversationDoc, userId: string): Promise<Conversation> {
      const member = await members.findOne({ _id: memberId(doc._id, userId) });
      return toConversation(doc, member ?? undefined);
    },

    /**
     * Moves each conversation's lastSeq, message count, lastMessage and activity forward, in
     * one bulk write. Called with what a batch newly stored (its seqs come after the lastSeq
     * just read), and `$max` keeps the counters from going back even if two writers overlap
     * during a rebalance. The filter is `_id` alone: anything more makes the stand-in scan.
     */
    async advance(advances: ConversationAdvance[]): Promise<void> {
      if (advances.length === 0) return;
      await conversations.bulkWrite(
        advances.map((a) => ({
          updateOne: {
            filter: { _id: a.conversationId },
            update: {
              $max: { lastSeq: a.lastSeq, messageCount: a.messageCount, ...(a.lastActivityAt ? { lastActivityAt: a.lastActivityAt } : {}) },
              ...(a.lastMessage ? { $set: { lastMessage: previewOf(a.lastMessage) } } : {}),
            },
          },
        })),
        { ordered: false },
      );
    },

    /**
     * Moves a member's read state forward only (never past lastSeq): the seq and the message
     * count there (`readCount`), so unread counts leave edits and deletes out. True when it moved.
     */
    async markRead(conversationId: string, userId: string, seq: number, readCount: number): Promise<boolean> {
      const res = await members.updateOne({ _id: memberId(conversationId, userId) }, { $max: { lastReadSeq: seq, lastReadCount: readCount } });
      return res.modifiedCount > 0;
    },
  };
}

export type ConversationStore = ReturnType<typeof createConversationStore>;
