import { randomUUID } from "node:crypto";
import { MongoBulkWriteError, type Collection, type Db } from "mongodb";

export interface AutoMessageDoc {
  _id: string;
  /** The plan (night) this belongs to; (planId, senderId) is unique, so a plan is made once. */
  planId: string;
  senderId: string;
  recipientId: string;
  content: string;
  sendDate: Date;
  isQueued: boolean;
  queuedAt: Date | null;
  /** Marks one queue-job claim, so the job reads back exactly what it claimed. */
  claimToken: string | null;
  isSent: boolean;
  sentAt: Date | null;
  messageId: string | null;
  conversationId: string | null;
  attempts: number;
  lastError: string | null;
  deadLetteredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface AutoMessageStats {
  planned: number;
  waiting: number;
  queued: number;
  sent: number;
  failed: number;
  deadLettered: number;
}

export function createAutoMessageStore(db: Db) {
  const automessages: Collection<AutoMessageDoc> = db.collection<AutoMessageDoc>("automessages");

  return {
    collection: automessages,

    async ensureIndexes(): Promise<void> {
      await automessages.createIndex({ planId: 1, senderId: 1 }, { unique: true, name: "plan_sender_unique" });
      await automessages.createIndex({ isQueued: 1, sendDate: 1 }, { name: "due" });
      await automessages.createIndex({ claimToken: 1 }, { name: "claim" });
    },

    /**
     * Saves a plan in bulk. Senders that already have a message in this plan are skipped by
     * the unique index (a second run the same night, or a second replica, adds nothing).
     */
    async insertPlan(docs: Array<Pick<AutoMessageDoc, "planId" | "senderId" | "recipientId" | "content" | "sendDate">>): Promise<number> {
      if (docs.length === 0) return 0;
      const now = new Date();
      const full: AutoMessageDoc[] = docs.map((d) => ({
        _id: randomUUID(),
        ...d,
        isQueued: false,
        queuedAt: null,
        claimToken: null,
        isSent: false,
        sentAt: null,
        messageId: null,
        conversationId: null,
        attempts: 0,
        lastError: null,
        deadLetteredAt: null,
        createdAt: now,
        updatedAt: now,
      }));
      let inserted = 0;
      for (let i = 0; i < full.length; i += 5000) {
        const chunk = full.slice(i, i + 5000);
        try {
          await automessages.insertMany(chunk, { ordered: false });
          inserted += chunk.length;
        } catch (err) {
          if (!(err instanceof MongoBulkWriteError)) throw err;
          const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
          if (writeErrors.some((e) => e.code !== 11000)) throw err;
          // Unordered: everything but the refused duplicates went in. (Counted here because
          // not every Mongo-wire server reports insertedCount right on partial failure.)
          inserted += chunk.length - writeErrors.length;
        }
      }
      return inserted;
    },

    /**
     * Claims up to `limit` due messages in one update, then reads back exactly those:
     * a message is claimed by one queue job only, however many run.
     */
    async claimDue(now: Date, limit: number): Promise<AutoMessageDoc[]> {
      const candidates = await automessages
        .find({ isQueued: false, sendDate: { $lte: now } })
        .sort({ sendDate: 1 })
        .limit(limit)
        .project<{ _id: string }>({ _id: 1 })
        .toArray();
      if (candidates.length === 0) return [];
      const claimToken = randomUUID();
      await automessages.updateMany(
        { _id: { $in: candidates.map((c) => c._id) }, isQueued: false },
        { $set: { isQueued: true, queuedAt: now, claimToken, updatedAt: now } },
      );
      return automessages.find({ claimToken }).toArray();
    },

    /**
     * Queued long ago, never sent, not dead: the publish may have been lost in a crash
     * between claim and publish. Re-claimed with a fresh timestamp for re-publishing.
     */
    async claimStale(olderThan: Date, now: Date, limit: number): Promise<AutoMessageDoc[]> {
      const stale = await automessages
        .find({ isQueued: true, isSent: false, deadLetteredAt: null, queuedAt: { $lt: olderThan } })
        .limit(limit)
        .project<{ _id: string; queuedAt: Date }>({ _id: 1, queuedAt: 1 })
        .toArray();
      const claimToken = randomUUID();
      for (const doc of stale) {
        await automessages.updateOne({ _id: doc._id, queuedAt: doc.queuedAt }, { $set: { queuedAt: now, claimToken, updatedAt: now } });
      }
      return stale.length === 0 ? [] : automessages.find({ claimToken }).toArray();
    },

    /** Everyone a plan already involves, as sender or recipient. */
    async usersInPlan(planId: string): Promise<Set<string>> {
      const docs = await automessages.find({ planId }).project<{ senderId: string; recipientId: string }>({ senderId: 1, recipientId: 1 }).toArray();
      const ids = new Set<string>();
      for (const d of docs) {
        ids.add(d.senderId);
        ids.add(d.recipientId);
      }
      return ids;
    },

    findById(id: string): Promise<AutoMessageDoc | null> {
      return automessages.findOne({ _id: id });
    },

    async markSent(id: string, result: { messageId: string; conversationId: string }): Promise<void> {
      const now = new Date();
      await automessages.updateOne(
        { _id: id },
        { $set: { isSent: true, sentAt: now, messageId: result.messageId, conversationId: result.conversationId, lastError: null, updatedAt: now }, $inc: { attempts: 1 } },
      );
    },

    async markFailed(id: string, error: string, dead: boolean): Promise<void> {
      const now = new Date();
      await automessages.updateOne(
        { _id: id },
        { $set: { lastError: error.slice(0, 500), updatedAt: now, ...(dead ? { deadLetteredAt: now } : {}) }, $inc: { attempts: 1 } },
      );
    },

    async stats(): Promise<AutoMessageStats> {
      const [planned, waiting, queued, sent, failed, deadLettered] = await Promise.all([
        automessages.countDocuments({}),
        automessages.countDocuments({ isQueued: false }),
        automessages.countDocuments({ isQueued: true, isSent: false, deadLetteredAt: null }),
        automessages.countDocuments({ isSent: true }),
        automessages.countDocuments({ isSent: false, attempts: { $gt: 0 }, deadLetteredAt: null }),
        automessages.countDocuments({ deadLetteredAt: { $ne: null } }),
      ]);
      return { planned, waiting, queued, sent, failed, deadLettered };
    },
  };
}

export type AutoMessageStore = ReturnType<typeof createAutoMessageStore>;
