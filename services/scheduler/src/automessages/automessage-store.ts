import { createHash } from "node:crypto";
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db } from "mongodb";
import type { AutoMessageStats, PlanCounts } from "./automessage-counts.ts";

/*
 * Key design. The Mongo-wire stand-in uses an index only for plain equality on exactly the
 * fields of a unique index (or `$in` on a single-field one, `_id` included) and scans for
 * everything else, so every AutoMessage query below is a lookup by `_id` (or `_id: {$in}`):
 *
 *   automessages           _id: hash(plan, sender) the message (state: isQueued, isSent, attempts, ...)
 *   automessage_plan_chunks _id: "<planId>#<n>" the plan journal: up to PLAN_CHUNK messages each, written
 *                                               before they are applied; `applied` once they are in
 *                                               the due buckets and in `automessages`
 *   automessage_due        _id: minute ISO      ids due in that minute (`$push` at planning)
 *   automessage_queued     _id: minute ISO      ids claimed/published in that minute (re-checked
 *                                               for a lost publish after REQUEUE_AFTER)
 *   automessage_claims     _id: automessageId   single-winner claim of the first publish
 *                          _id: "<id>@<minute>" single-winner claim of a re-publish
 *   automessage_counters   _id: planId          per-plan counters ($inc), for stats
 *   automessage_meta       _id: "due-cursor"    { next }: first due minute not settled yet
 *                          _id: "stale-cursor"  { next }: first queued minute not re-checked yet
 *                          _id: "plans"         { ids }: the plans that have counters
 *
 * Minute keys are ISO strings cut at the minute ("2026-11-24T01:36"); cursors are Dates.
 */

export interface AutoMessageDoc {
  _id: string;
  /** The plan (night) this belongs to; `_id` is derived from (planId, senderId), so a sender has one per plan. */
  planId: string;
  senderId: string;
  recipientId: string;
  content: string;
  sendDate: Date;
  isQueued: boolean;
  queuedAt: Date | null;
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

export type { AutoMessageStats, PlanCounts } from "./automessage-counts.ts";

/** Plans' counts summed. */
export function totalOf(plans: AutoMessageStats[]): AutoMessageStats {
  const sum: AutoMessageStats = { planned: 0, waiting: 0, queued: 0, sent: 0, failed: 0, deadLettered: 0 };
  for (const c of plans) for (const k of Object.keys(sum) as Array<keyof AutoMessageStats>) sum[k] += c[k];
  return sum;
}

/** A message of a plan before it is stored. */
export interface PlannedMessage {
  _id: string;
  senderId: string;
  recipientId: string;
  content: string;
  sendDate: Date;
}

export interface PlanChunkDoc {
  _id: string;
  planId: string;
  messages: PlannedMessage[];
  applied: boolean;
  /** How many of `messages` are stored (a sender already in the plan is refused). */
  inserted: number;
  createdAt: Date;
}

interface BucketDoc {
  _id: string;
  ids: string[];
}

interface CounterDoc {
  _id: string;
  planned: number;
  /** Ever claimed for publishing (first publish only). */
  queued: number;
  sent: number;
  /** Failed at least once, not (yet) sent nor dead-lettered. */
  failed: number;
  deadLettered: number;
}

interface MetaDoc {
  _id: string;
  next?: Date;
  ids?: string[];
}

type CounterField = "queued" | "sent" | "failed" | "deadLettered";

export const MINUTE = 60_000;
/** Messages per plan chunk (and per insertMany). */
export const PLAN_CHUNK = 5000;
/** Bucket `_id`s per `$in` read. */
const KEYS_PER_READ = 500;

/** A plan's message id: from (plan, sender), 32 url-safe characters. */
export const autoMessageId = (planId: string, senderId: string) =>
  createHash("sha256").update(`${planId}\n${senderId}`).digest("base64url").slice(0, 32);

export const minuteOf = (ms: number) => Math.floor(ms / MINUTE) * MINUTE;
export const minuteKey = (ms: number) => new Date(minuteOf(ms)).toISOString().slice(0, 16);

/** Minute keys from `fromMs` to `toMs` (both minute-aligned, inclusive). */
export function minuteKeys(fromMs: number, toMs: number): string[] {
  const keys: string[] = [];
  for (let m = minuteOf(fromMs); m <= toMs; m += MINUTE) keys.push(minuteKey(m));
  return keys;
}

function duplicateIndexes(err: unknown): Set<number> {
  if (!(err instanceof MongoBulkWriteError)) throw err;
  const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (writeErrors.some((e) => e.code !== 11000)) throw err;
  return new Set(writeErrors.map((e) => e.index));
}

export function createAutoMessageStore(db: Db) {
  const automessages: Collection<AutoMessageDoc> = db.collection<AutoMessageDoc>("automessages");
  const chunks = db.collection<PlanChunkDoc>("automessage_plan_chunks");
  const due = db.collection<BucketDoc>("automessage_due");
  const queuedBuckets = db.collection<BucketDoc>("automessage_queued");
  const claims = db.collection<{ _id: string; at: Date }>("automessage_claims");
  const counters = db.collection<CounterDoc>("automessage_counters");
  const meta = db.collection<MetaDoc>("automessage_meta");

  /** Inserts `{_id}` claims; returns the keys this caller won (a duplicate key is someone else's). */
  async function claim(keys: string[], now: Date): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    try {
      await claims.insertMany(keys.map((k) => ({ _id: k, at: now })), { ordered: false });
      return new Set(keys);
    } catch (err) {
      const lost = duplicateIndexes(err);
      return new Set(keys.filter((_, i) => !lost.has(i)));
    }
  }

  async function pushToBuckets(coll: Collection<BucketDoc>, byKey: Map<string, string[]>): Promise<void> {
    const ops: Array<AnyBulkWriteOperation<BucketDoc>> = [...byKey].map(([key, ids]) => ({
      updateOne: { filter: { _id: key }, update: { $push: { ids: { $each: ids } } }, upsert: true },
    }));
    for (let i = 0; i < ops.length; i += 1000) await coll.bulkWrite(ops.slice(i, i + 1000), { ordered: false });
  }

  async function readBuckets(coll: Collection<BucketDoc>, keys: string[]): Promise<BucketDoc[]> {
    const out: BucketDoc[] = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_READ) {
      const part = keys.slice(i, i + KEYS_PER_READ);
      const found = new Map((await coll.find({ _id: { $in: part } }).toArray()).map((b) => [b._id, b]));
      for (const k of part) {
        const b = found.get(k);
        if (b) out.push(b);
      }
    }
    return out;
  }

  async function findByIds(ids: string[]): Promise<AutoMessageDoc[]> {
    if (ids.length === 0) return [];
    return automessages.find({ _id: { $in: ids } }).toArray();
  }

  /**
   * Counters. Each `$inc` follows a transition that a single-winner write made (a claim
   * insert, or a findOneAndUpdate on `_id` whose "before" document shows this caller moved
   * the message), so duplicates, redeliveries and competing replicas never count twice. The
   * one gap is a crash between that write and its `$inc` (one round trip), which undercounts
   * by the messages in hand. `planned` is `$set` from the plan journal when the plan is done,
   * so it is exact (and repaired by the run that completes a crashed plan).
   */
  async function bump(planId: string, inc: Partial<Record<CounterField, number>>): Promise<void> {
    const nonZero = Object.fromEntries(Object.entries(inc).filter(([, n]) => n !== 0));
    if (Object.keys(nonZero).length === 0) return;
    await counters.updateOne({ _id: planId }, { $inc: nonZero }, { upsert: true });
  }

  /** Each plan's counts, newest plan first (the plan list and the counters are read by key). */
  async function planCounts(): Promise<PlanCounts[]> {
    const planIds = (await meta.findOne({ _id: "plans" }))?.ids ?? [];
    const out: PlanCounts[] = [];
    for (let i = 0; i < planIds.length; i += KEYS_PER_READ) {
      for (const c of await counters.find({ _id: { $in: planIds.slice(i, i + KEYS_PER_READ) } }).toArray()) {
        const planned = c.planned ?? 0;
        const queued = c.queued ?? 0;
        const sent = c.sent ?? 0;
        const deadLettered = c.deadLettered ?? 0;
        out.push({
          planId: c._id,
          planned,
          waiting: Math.max(0, planned - queued),
          queued: Math.max(0, queued - sent - deadLettered),
          sent,
          failed: Math.max(0, c.failed ?? 0),
          deadLettered,
        });
      }
    }
    return out.sort((a, b) => b.planId.localeCompare(a.planId));
  }

  async function registerPlan(planId: string): Promise<void> {
    await meta.updateOne({ _id: "plans" }, { $addToSet: { ids: planId } }, { upsert: true });
  }

  async function lowerCursor(name: "due-cursor" | "stale-cursor", to: number): Promise<void> {
    await meta.updateOne({ _id: name }, { $min: { next: new Date(to) } }, { upsert: true });
  }

  async function cursor(name: "due-cursor" | "stale-cursor"): Promise<number | null> {
    const doc = await meta.findOne({ _id: name });
    return doc?.next ? doc.next.getTime() : null;
  }

  async function advanceCursor(name: "due-cursor" | "stale-cursor", to: number): Promise<void> {
    await meta.updateOne({ _id: name }, { $max: { next: new Date(to) } }, { upsert: true });
  }

  /**
   * Claims `docs` for publishing and returns the ones this caller won. The ids go to the
   * current queued-minute bucket first, so a crash anywhere after this point is found by
   * the stale re-check; then the single-winner claims; then the documents are marked.
   */
  async function claimForPublish(docs: AutoMessageDoc[], keyOf: (d: AutoMessageDoc) => string, now: Date): Promise<AutoMessageDoc[]> {
    if (docs.length === 0) return [];
    // The stale walk only reaches minutes older than `now - REQUEUE_AFTER`: never this one.
    await lowerCursor("stale-cursor", minuteOf(now.getTime()));
    await pushToBuckets(queuedBuckets, new Map([[minuteKey(now.getTime()), docs.map((d) => d._id)]]));
    const won = await claim(docs.map(keyOf), now);
    const winners = docs.filter((d) => won.has(keyOf(d)));
    if (winners.length === 0) return [];
    await automessages.updateMany({ _id: { $in: winners.map((d) => d._id) } }, { $set: { isQueued: true, queuedAt: now, updatedAt: now } });
    const firstQueued = new Map<string, number>();
    for (const d of winners) if (!d.isQueued) firstQueued.set(d.planId, (firstQueued.get(d.planId) ?? 0) + 1);
    for (const [planId, n] of firstQueued) await bump(planId, { queued: n });
    return winners.map((d) => ({ ...d, isQueued: true, queuedAt: now }));
  }

  /** Inserts a chunk's messages; sets and returns how many of them are stored. */
  async function insertMessages(c: PlanChunkDoc): Promise<number> {
    const now = new Date();
    const full: AutoMessageDoc[] = c.messages.map((m) => ({
      ...m,
      planId: c.planId,
      isQueued: false,
      queuedAt: null,
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
    c.inserted = full.length;
    if (full.length === 0) return 0;
    try {
      await automessages.insertMany(full, { ordered: false });
    } catch (err) {
      duplicateIndexes(err);
      // Some refused: count this chunk's messages that are stored (an earlier run of this
      // chunk included; not a concurrent run's other pairing of the same sender), by key.
      const mine = new Map(full.map((d) => [d._id, d]));
      const stored = await automessages
        .find({ _id: { $in: full.map((d) => d._id) } })
        .project<Pick<AutoMessageDoc, "_id" | "recipientId" | "sendDate">>({ _id: 1, recipientId: 1, sendDate: 1 })
        .toArray();
      c.inserted = stored.filter((d) => {
        const m = mine.get(d._id);
        return m !== undefined && m.recipientId === d.recipientId && m.sendDate.getTime() === d.sendDate.getTime();
      }).length;
    }
    return c.inserted;
  }

  return {
    collection: automessages,

    /** The indexes a real MongoDB needs. */
    ensureIndexes(): Promise<void> {
      // Nothing beyond `_id`: every query is by `_id`, and a sender's one message per plan is its `_id`.
      return Promise.resolve();
    },

    /**
     * Once (marker `automessages.keys.v1` in `migrations`): AutoMessages stored in the old
     * shape (found by scanning `isQueued`) get their due / queued buckets, counters and plan
     * journal, so an old plan still in flight is sent and counted; the old non-unique
     * indexes are dropped. Safe to run twice at once: buckets may hold an id twice (claims
     * are single-winner), counters are `$set`.
     */
    async migrateKeys(): Promise<number> {
      const marker = db.collection<{ _id: string; at: Date }>("migrations");
      if (await marker.findOne({ _id: "automessages.keys.v1" })) return 0;
      await automessages.dropIndex("due").catch(() => undefined);
      await automessages.dropIndex("claim").catch(() => undefined);
      // Made redundant by `_id` = hash(plan, sender), and each unique index costs every insert.
      await automessages.dropIndex("plan_sender_unique").catch(() => undefined);
      const nowMin = minuteOf(Date.now());
      const dueByKey = new Map<string, string[]>();
      const queuedByKey = new Map<string, string[]>();
      const perPlan = new Map<string, CounterDoc & { messages: PlannedMessage[] }>();
      let n = 0;
      for await (const d of automessages.find({})) {
        n++;
        const c = perPlan.get(d.planId) ?? { _id: d.planId, planned: 0, queued: 0, sent: 0, failed: 0, deadLettered: 0, messages: [] };
        perPlan.set(d.planId, c);
        c.planned++;
        if (d.isQueued) c.queued++;
        if (d.isSent) c.sent++;
        if (d.deadLetteredAt) c.deadLettered++;
        if (!d.isSent && !d.deadLetteredAt && d.attempts > 0) c.failed++;
        c.messages.push({ _id: d._id, senderId: d.senderId, recipientId: d.recipientId, content: d.content, sendDate: d.sendDate });
        const push = (m: Map<string, string[]>, key: string) => m.set(key, [...(m.get(key) ?? []), d._id]);
        if (!d.isQueued) push(dueByKey, minuteKey(Math.max(minuteOf(d.sendDate.getTime()), nowMin)));
        else if (!d.isSent && !d.deadLetteredAt) push(queuedByKey, minuteKey(d.queuedAt ? d.queuedAt.getTime() : nowMin));
      }
      if (dueByKey.size > 0) {
        await lowerCursor("due-cursor", Math.min(...[...dueByKey.keys()].map((k) => Date.parse(`${k}Z`))));
        await pushToBuckets(due, dueByKey);
      }
      if (queuedByKey.size > 0) {
        await lowerCursor("stale-cursor", Math.min(...[...queuedByKey.keys()].map((k) => Date.parse(`${k}Z`))));
        await pushToBuckets(queuedBuckets, queuedByKey);
      }
      const plans = db.collection<{ _id: string; status: string; chunks?: number }>("automessage_plans");
      for (const { messages, ...c } of perPlan.values()) {
        await counters.updateOne({ _id: c._id }, { $set: c }, { upsert: true });
        await registerPlan(c._id);
        // An old plan left half-made: journal its messages, so completing it pairs only the rest.
        const plan = await plans.findOne({ _id: c._id });
        if (plan && plan.status !== "done") {
          const before = await plans.findOneAndUpdate({ _id: c._id }, { $inc: { chunks: 1 } }, { returnDocument: "before" });
          const index = before?.chunks ?? 0;
          await chunks.updateOne(
            { _id: `${c._id}#${index}` },
            { $set: { planId: c._id, messages, applied: true, inserted: messages.length, createdAt: new Date() } },
            { upsert: true },
          );
        }
      }
      await marker.updateOne({ _id: "automessages.keys.v1" }, { $set: { at: new Date() } }, { upsert: true });
      return n;
    },

    /**
     * A plan's messages with their ids (not yet stored). The id is derived from (plan,
     * sender), so a sender has one message per plan by `_id` alone (no second index), and a
     * journalled message re-applied after a crash is the same document.
     */
    newMessages(planId: string, docs: Array<Omit<PlannedMessage, "_id">>): PlannedMessage[] {
      return docs.map((d) => ({ _id: autoMessageId(planId, d.senderId), ...d }));
    },

    /** Registers a plan for stats (idempotent). */
    registerPlan,

    /** Splits a plan's messages into journal chunks `<planId>#<firstIndex>...` (not yet written). */
    chunk(planId: string, firstIndex: number, messages: PlannedMessage[]): PlanChunkDoc[] {
      const out: PlanChunkDoc[] = [];
      const now = new Date();
      for (let i = 0; i * PLAN_CHUNK < messages.length; i++) {
        out.push({
          _id: `${planId}#${firstIndex + i}`,
          planId,
          messages: messages.slice(i * PLAN_CHUNK, (i + 1) * PLAN_CHUNK),
          applied: false,
          inserted: 0,
          createdAt: now,
        });
      }
      return out;
    },

    /** The plan's journal chunks `0..count-1`, by key. */
    async planChunks(planId: string, count: number): Promise<PlanChunkDoc[]> {
      if (count <= 0) return [];
      const ids = Array.from({ length: count }, (_, i) => `${planId}#${i}`);
      return chunks.find({ _id: { $in: ids } }).toArray();
    },

    /** Everyone a plan already involves, as sender or recipient: from its journal, by key. */
    usersInChunks(planChunks: PlanChunkDoc[]): Set<string> {
      const ids = new Set<string>();
      for (const c of planChunks) {
        for (const m of c.messages) {
          ids.add(m.senderId);
          ids.add(m.recipientId);
        }
      }
      return ids;
    },

    /**
     * Saves chunks not applied yet: journals each one (unless `journalled` already), then
     * inserts its messages in bulk; meanwhile the ids go into their due-minute buckets
     * (never a minute before now: the queue job's cursor may have passed it). A chunk is
     * marked applied only when all that is done, so a run that crashed is completed by the
     * next one re-applying its journal (idempotent: same `_id`s, bucket duplicates are
     * harmless). The journal of chunk n+1 is written while chunk n's messages are inserted:
     * they are different collections. A message refused as a duplicate (its sender already
     * has this plan's message) leaves a bucket entry that points at nothing and is skipped.
     * @returns messages stored by these chunks
     */
    async saveChunks(planChunks: PlanChunkDoc[], opts: { journalled: boolean }): Promise<number> {
      const pending = planChunks.filter((c) => !c.applied);
      if (pending.length === 0) return 0;
      const nowMin = minuteOf(Date.now());
      const byKey = new Map<string, string[]>();
      let earliest = Infinity;
      for (const c of pending) {
        for (const m of c.messages) {
          const minute = Math.max(minuteOf(m.sendDate.getTime()), nowMin);
          earliest = Math.min(earliest, minute);
          const key = minuteKey(minute);
          const ids = byKey.get(key);
          if (ids) ids.push(m._id);
          else byKey.set(key, [m._id]);
        }
      }
      const buckets = (async () => {
        await lowerCursor("due-cursor", earliest);
        await pushToBuckets(due, byKey);
      })();
      let journal: Promise<unknown> = Promise.resolve();
      const journalledUpTo = pending.map((c) => (journal = journal.then(() => (opts.journalled ? undefined : chunks.insertOne(c)))));
      // Two insert streams: the Mongo-wire server takes them a little faster than one.
      let next = 0;
      const stream = async () => {
        let n = 0;
        for (let i = next++; i < pending.length; i = next++) {
          await journalledUpTo[i];
          n += await insertMessages(pending[i]!);
        }
        return n;
      };
      const inserts = Promise.all([stream(), stream()]).then(([a, b]) => a + b);
      const [, , total] = await Promise.all([buckets, journal, inserts]);
      for (const c of pending) {
        await chunks.updateOne({ _id: c._id }, { $set: { applied: true, inserted: c.inserted } });
        c.applied = true;
      }
      return total;
    },

    /**
     * The plan is complete: its planned count, summed from every chunk of its journal (read
     * by key, so a concurrent run's chunks are counted too). `$set`, so exact and idempotent.
     * @returns the count
     */
    async setPlanned(planId: string, chunkCount: number): Promise<number> {
      let planned = 0;
      if (chunkCount > 0) {
        const ids = Array.from({ length: chunkCount }, (_, i) => `${planId}#${i}`);
        for (const c of await chunks.find({ _id: { $in: ids } }).project<Pick<PlanChunkDoc, "applied" | "inserted">>({ applied: 1, inserted: 1 }).toArray()) {
          if (c.applied) planned += c.inserted;
        }
      }
      await registerPlan(planId);
      await counters.updateOne({ _id: planId }, { $set: { planned } }, { upsert: true });
      return planned;
    },

    /**
     * Walks the due-minute buckets from the cursor up to now, and claims (single-winner)
     * and hands to `publish` every message due by `now`, `batchSize` at a time. The cursor
     * moves past a minute once it is `settleMs` old, so a bucket a slow planner is still
     * writing is read again on the next run. @returns how many were claimed
     */
    async queueDue(now: Date, batchSize: number, settleMs: number, publish: (docs: AutoMessageDoc[]) => Promise<void>): Promise<number> {
      const from = await cursor("due-cursor");
      if (from === null) return 0;
      const nowMs = now.getTime();
      let queued = 0;
      for (const bucket of await readBuckets(due, minuteKeys(from, minuteOf(nowMs)))) {
        const ids = [...new Set(bucket.ids)];
        for (let i = 0; i < ids.length; i += batchSize) {
          const docs = (await findByIds(ids.slice(i, i + batchSize))).filter((d) => !d.isQueued && d.sendDate.getTime() <= nowMs);
          const won = await claimForPublish(docs, (d) => d._id, now);
          await publish(won);
          queued += won.length;
        }
      }
      const settled = minuteOf(nowMs - settleMs - MINUTE);
      if (settled + MINUTE > from) await advanceCursor("due-cursor", settled + MINUTE);
      return queued;
    },

    /**
     * Re-checks the queued-minute buckets older than `requeueAfterMs`: a message claimed
     * there and still neither sent nor dead-lettered (a publish lost in a crash, or a
     * claim whose marking was) is claimed again under `<id>@<minute>` and re-published.
     * @returns how many were re-published
     */
    async requeueStale(now: Date, requeueAfterMs: number, batchSize: number, publish: (docs: AutoMessageDoc[]) => Promise<void>): Promise<number> {
      const from = await cursor("stale-cursor");
      if (from === null) return 0;
      const nowMs = now.getTime();
      const last = minuteOf(nowMs - requeueAfterMs - MINUTE);
      if (last < from) return 0;
      let republished = 0;
      for (const bucket of await readBuckets(queuedBuckets, minuteKeys(from, last))) {
        const ids = [...new Set(bucket.ids)];
        for (let i = 0; i < ids.length; i += batchSize) {
          const docs = (await findByIds(ids.slice(i, i + batchSize))).filter(
            (d) => !d.isSent && !d.deadLetteredAt && (!d.queuedAt || d.queuedAt.getTime() <= nowMs - requeueAfterMs),
          );
          const won = await claimForPublish(docs, (d) => `${d._id}@${bucket._id}`, now);
          await publish(won);
          republished += won.length;
        }
      }
      await advanceCursor("stale-cursor", last + MINUTE);
      return republished;
    },

    /** For benchmarks and operators: makes these (unqueued) messages due now, in the current minute's bucket. */
    async makeDueNow(ids: string[]): Promise<void> {
      if (ids.length === 0) return;
      const now = Date.now();
      await automessages.updateMany({ _id: { $in: ids } }, { $set: { sendDate: new Date(0) } });
      await lowerCursor("due-cursor", minuteOf(now));
      await pushToBuckets(due, new Map([[minuteKey(now), ids]]));
    },

    /** AutoMessages by id, in one read. */
    findByIds,

    /**
     * Marks a batch sent by `_id`, in three round trips whatever its size: a `sent:<id>` claim
     * per message (single winner across workers and redeliveries), one bulk update, and one
     * counter `$inc` per plan for the claims this call won. `before` is each message as the
     * worker read it before sending (whether it was failing until now).
     */
    async markSentMany(entries: Array<{ before: AutoMessageDoc; messageId: string; conversationId: string }>): Promise<void> {
      if (entries.length === 0) return;
      const now = new Date();
      const won = await claim(
        entries.map((e) => `sent:${e.before._id}`),
        now,
      );
      await automessages.bulkWrite(
        entries.map((e) => ({
          updateOne: {
            filter: { _id: e.before._id },
            update: { $set: { isSent: true, sentAt: now, messageId: e.messageId, conversationId: e.conversationId, lastError: null, updatedAt: now }, $inc: { attempts: 1 } },
          },
        })),
        { ordered: false },
      );
      const byPlan = new Map<string, { sent: number; failed: number }>();
      for (const { before } of entries) {
        if (!won.has(`sent:${before._id}`)) continue;
        const counts = byPlan.get(before.planId) ?? { sent: 0, failed: 0 };
        counts.sent++;
        if (before.attempts > 0 && !before.deadLetteredAt) counts.failed--;
        byPlan.set(before.planId, counts);
      }
      await Promise.all([...byPlan].map(([planId, inc]) => bump(planId, inc)));
    },

    async markFailed(id: string, error: string, dead: boolean): Promise<void> {
      const now = new Date();
      const before = await automessages.findOneAndUpdate(
        { _id: id },
        { $set: { lastError: error.slice(0, 500), updatedAt: now, ...(dead ? { deadLetteredAt: now } : {}) }, $inc: { attempts: 1 } },
        { returnDocument: "before" },
      );
      if (!before || before.isSent || before.deadLetteredAt) return;
      const wasFailing = before.attempts > 0;
      if (dead) await bump(before.planId, { deadLettered: 1, failed: wasFailing ? -1 : 0 });
      else if (!wasFailing) await bump(before.planId, { failed: 1 });
    },

    planCounts,

    /** The counts summed over every plan. */
    async stats(): Promise<AutoMessageStats> {
      return totalOf(await planCounts());
    },

    /**
     * A dead-lettered AutoMessage goes back to the main queue (an operator's retry): no longer
     * dead, its attempts start from zero and it counts as queued again. Single-winner like the
     * other transitions: only the call whose "before" document was dead moves the counter.
     * @returns the document before, or null when there is none
     */
    async markRetried(id: string, now = new Date()): Promise<AutoMessageDoc | null> {
      const current = await automessages.findOne({ _id: id });
      // Sent already (a leftover copy): nothing to reset; the worker will see it sent.
      if (!current || current.isSent || !current.deadLetteredAt) return current;
      const before = await automessages.findOneAndUpdate(
        { _id: id },
        { $set: { deadLetteredAt: null, attempts: 0, queuedAt: now, updatedAt: now } },
        { returnDocument: "before" },
      );
      if (before?.deadLetteredAt && !before.isSent) await bump(before.planId, { deadLettered: -1 });
      return before;
    },

    /** Undoes `markRetried` when the message could not be published after all (it stays dead-lettered). */
    async unmarkRetried(before: AutoMessageDoc): Promise<void> {
      if (!before.deadLetteredAt || before.isSent) return;
      const undone = await automessages.findOneAndUpdate(
        { _id: before._id },
        { $set: { deadLetteredAt: before.deadLetteredAt, attempts: before.attempts, queuedAt: before.queuedAt, updatedAt: new Date() } },
        { returnDocument: "before" },
      );
      if (undone && !undone.deadLetteredAt && !undone.isSent) await bump(before.planId, { deadLettered: 1 });
    },
  };
}

export type AutoMessageStore = ReturnType<typeof createAutoMessageStore>;
