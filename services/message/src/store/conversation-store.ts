import { createHash } from "node:crypto";
import { MongoServerError, type Collection, type Db } from "mongodb";
import type { Conversation, StoredMessage } from "@chat/shared/contracts";

export interface ConversationDoc {
  _id: string;
  type: "direct" | "group";
  title: string | null;
  participantIds: string[];
  /** Highest seq allocated; unread = lastSeq - member's lastReadSeq. */
  lastSeq: number;
  lastMessage: { messageId: string; senderId: string; content: string; seq: number; sentAt: string } | null;
  createdBy: string;
  createdAt: Date;
  lastActivityAt: Date;
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
}

const memberId = (conversationId: string, userId: string) => `${conversationId}:${userId}`;

/** A direct conversation's id is derived from its pair, so creating it twice (even concurrently) finds one. */
export function directConversationId(a: string, b: string): string {
  const [x, y] = [a, b].sort();
  return `d-${createHash("sha256").update(`${x}\u0000${y}`).digest("base64url").slice(0, 32)}`;
}

const LAST_MESSAGE_PREVIEW = 200;

export function createConversationStore(db: Db) {
  const conversations: Collection<ConversationDoc> = db.collection<ConversationDoc>("conversations");
  const members: Collection<MemberDoc> = db.collection<MemberDoc>("conversation_members");
  const inboxes: Collection<InboxDoc> = db.collection<InboxDoc>("user_conversations");

  /** A member's read state and inbox entry: idempotent upserts, so a retry after a crash completes them. */
  async function addMembers(doc: ConversationDoc): Promise<void> {
    await Promise.all([
      members.bulkWrite(
        doc.participantIds.map((userId) => ({
          updateOne: {
            filter: { _id: memberId(doc._id, userId) },
            update: { $setOnInsert: { conversationId: doc._id, userId, lastReadSeq: 0 } },
            upsert: true,
          },
        })),
        { ordered: false },
      ),
      inboxes.bulkWrite(
        doc.participantIds.map((userId) => ({
          updateOne: { filter: { _id: userId }, update: { $addToSet: { conversationIds: doc._id } }, upsert: true },
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

  function toConversation(doc: ConversationDoc, lastReadSeq: number): Conversation {
    return {
      id: doc._id,
      type: doc.type,
      title: doc.title,
      participantIds: doc.participantIds,
      lastSeq: doc.lastSeq,
      lastMessage: doc.lastMessage,
      lastReadSeq,
      unreadCount: Math.max(0, doc.lastSeq - lastReadSeq),
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
        if (err instanceof MongoServerError && err.code === 11000) {
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

    findById(id: string): Promise<ConversationDoc | null> {
      return conversations.findOne({ _id: id });
    },

    findMany(ids: string[]): Promise<ConversationDoc[]> {
      return conversations.find({ _id: { $in: ids } }).toArray();
    },

    /** Distinct co-participants of every conversation of `userId`. */
    async contactsOf(userId: string): Promise<string[]> {
      const docs = await conversationsOf(userId);
      const ids = new Set<string>();
      for (const d of docs) for (const p of d.participantIds) if (p !== userId) ids.add(p);
      return [...ids];
    },

    async listFor(userId: string, limit: number): Promise<Conversation[]> {
      const docs = (await conversationsOf(userId)).sort((a, b) => b.lastActivityAt.getTime() - a.lastActivityAt.getTime()).slice(0, limit);
      if (docs.length === 0) return [];
      const reads = await members.find({ _id: { $in: docs.map((d) => memberId(d._id, userId)) } }).toArray();
      const readSeq = new Map(reads.map((m) => [m.conversationId, m.lastReadSeq]));
      return docs.map((d) => toConversation(d, readSeq.get(d._id) ?? 0));
    },

    async view(doc: ConversationDoc, userId: string): Promise<Conversation> {
      const member = await members.findOne({ _id: memberId(doc._id, userId) });
      return toConversation(doc, member?.lastReadSeq ?? 0);
    },

    /**
     * Moves each conversation's lastSeq/lastMessage forward to its newest message, in one
     * bulk write. Called with newly stored messages only (their seqs come after the lastSeq
     * just read), and `$max` keeps lastSeq from going back even if two writers overlap
     * during a rebalance. The filter is `_id` alone: anything more makes the stand-in scan.
     */
    async advance(lasts: StoredMessage[]): Promise<void> {
      if (lasts.length === 0) return;
      await conversations.bulkWrite(
        lasts.map((last) => ({
          updateOne: {
            filter: { _id: last.conversationId },
            update: {
              $max: { lastSeq: last.seq, lastActivityAt: new Date(last.createdAt) },
              $set: {
                lastMessage: {
                  messageId: last.messageId,
                  senderId: last.senderId,
                  content: last.content.slice(0, LAST_MESSAGE_PREVIEW),
                  seq: last.seq,
                  sentAt: last.sentAt,
                },
              },
            },
          },
        })),
        { ordered: false },
      );
    },

    /** Moves a member's lastReadSeq forward only (never past lastSeq); true when it moved. */
    async markRead(conversationId: string, userId: string, seq: number): Promise<boolean> {
      const res = await members.updateOne({ _id: memberId(conversationId, userId) }, { $max: { lastReadSeq: seq } });
      return res.modifiedCount > 0;
    },
  };
}

export type ConversationStore = ReturnType<typeof createConversationStore>;
