import { randomUUID } from "node:crypto";
import { MongoClient, type Db } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stackEnv } from "../../../shared/src/testing/index.ts";
import { MINUTE, createAutoMessageStore, type AutoMessageDoc, type AutoMessageStore, type PlanChunkDoc } from "../src/automessages/automessage-store.ts";
import { planAutoMessages } from "../src/automessages/planner.ts";
import { SETTLE_MS } from "../src/automessages/queue-due.ts";

/** The keyed AutoMessage store against the real Mongo-wire server, without a cluster. */
describe("AutoMessage store (keyed)", () => {
  let mongo: MongoClient;
  const dbs: Db[] = [];
  const freshDb = () => {
    const db = mongo.db(`amstore_${randomUUID().replace(/-/g, "").slice(0, 12)}`);
    dbs.push(db);
    return db;
  };
  const seedUsers = (db: Db, n: number) =>
    db.collection<{ _id: string; active: boolean }>("users").insertMany(Array.from({ length: n }, (_, i) => ({ _id: `u${i}`, active: true })));
  const collect = () => {
    const published: AutoMessageDoc[] = [];
    return { published, publish: (docs: AutoMessageDoc[]) => (published.push(...docs), Promise.resolve()) };
  };
  const plans = (db: Db) =>
    db.collection<{ _id: string; status: string; startedAt: Date; finishedAt: Date | null; messages: number; chunks?: number }>("automessage_plans");
  const plan = (db: Db, store: AutoMessageStore, planId: string, sendWithinMs = 1) =>
    planAutoMessages(db, store, activeUsersIn(db), { planId, contents: ["hi"], sendWithinMs });
  // The auth service's answer, played by the test's own users collection.
  const activeUsersIn = (db: Db) => async () =>
    (await db.collection<{ _id: string; active: boolean }>("users").find({ active: true }).toArray()).map((u) => u._id);

  beforeAll(async () => {
    mongo = await new MongoClient(stackEnv.mongoUrl).connect();
  });
  afterAll(async () => {
    for (const db of dbs) await db.dropDatabase().catch(() => undefined);
    await mongo?.close();
  });

  it("queues due messages once by bucket, re-publishes lost ones by queued bucket, and counts", async () => {
    const db = freshDb();
    const store = createAutoMessageStore(db);
    await store.ensureIndexes();
    await seedUsers(db, 10);
    expect((await plan(db, store, "p1")).inserted).toBe(5);
    expect((await plan(db, store, "p1")).alreadyPlanned).toBe(true);

    const now = new Date(Date.now() + 10);
    const first = collect();
    expect(await store.queueDue(now, 2, SETTLE_MS, first.publish)).toBe(5);
    expect(new Set(first.published.map((d) => d._id)).size).toBe(5);
    // Claimed once: a second pass (or replica) finds nothing, the minute is read again harmlessly.
    const second = collect();
    expect(await store.queueDue(now, 2, SETTLE_MS, second.publish)).toBe(0);
    expect(await store.stats()).toMatchObject({ planned: 5, waiting: 0, queued: 5, sent: 0 });

    const [sentOne, failing] = first.published;
    // Twice (a redelivery, or two workers): counted once.
    await store.markSentMany([{ before: sentOne!, messageId: "m1", conversationId: "c1" }]);
    await store.markSentMany([{ before: sentOne!, messageId: "m1", conversationId: "c1" }]);
    await store.markFailed(failing!._id, "boom", false);
    await store.markFailed(failing!._id, "boom", false);
    expect(await store.stats()).toMatchObject({ planned: 5, queued: 4, sent: 1, failed: 1, deadLettered: 0 });

    // Ten minutes on, the four never sent are published again, once.
    const later = new Date(now.getTime() + 12 * MINUTE);
    const stale = collect();
    expect(await store.requeueStale(later, 10 * MINUTE, 3, stale.publish)).toBe(4);
    expect(stale.published.map((d) => d._id)).not.toContain(sentOne!._id);
    expect(await store.requeueStale(later, 10 * MINUTE, 3, collect().publish)).toBe(0);
    // ... and checked again after another REQUEUE_AFTER.
    await store.markFailed(failing!._id, "dead", true);
    expect(await store.requeueStale(new Date(later.getTime() + 12 * MINUTE), 10 * MINUTE, 3, collect().publish)).toBe(3);
    expect(await store.stats()).toMatchObject({ planned: 5, queued: 3, sent: 1, failed: 0, deadLettered: 1 });
  });

  it("leaves future messages in their bucket, and catches up minutes missed while down", async () => {
    const db = freshDb();
    const store = createAutoMessageStore(db);
    await store.ensureIndexes();
    await seedUsers(db, 40);
    expect((await plan(db, store, "p2", 30 * MINUTE)).inserted).toBe(20);
    const all = await db.collection<AutoMessageDoc>("automessages").find({}).toArray();
    const cut = Date.now() + 15 * MINUTE;
    const dueByCut = all.filter((d) => d.sendDate.getTime() <= cut).length;
    const a = collect();
    expect(await store.queueDue(new Date(cut), 500, SETTLE_MS, a.publish)).toBe(dueByCut);
    expect(a.published.every((d) => d.sendDate.getTime() <= cut)).toBe(true);
    const b = collect();
    expect(await store.queueDue(new Date(Date.now() + 40 * MINUTE), 500, SETTLE_MS, b.publish)).toBe(20 - dueByCut);
  });

  it("completes a plan that crashed after journalling, pairing only the users it did not involve", async () => {
    const db = freshDb();
    const store = createAutoMessageStore(db);
    await store.ensureIndexes();
    await seedUsers(db, 10);
    // A run journalled u0->u1 and u2->u3, then died before applying them.
    await plans(db).insertOne({ _id: "p3", status: "planning", startedAt: new Date(), finishedAt: null, messages: 0, chunks: 1 });
    const journalled = store.newMessages("p3", [
      { senderId: "u0", recipientId: "u1", content: "hi", sendDate: new Date() },
      { senderId: "u2", recipientId: "u3", content: "hi", sendDate: new Date() },
    ]);
    await db.collection<PlanChunkDoc>("automessage_plan_chunks").insertMany(store.chunk("p3", 0, journalled));

    const result = await plan(db, store, "p3");
    expect(result.inserted).toBe(5);
    const docs = await db.collection<AutoMessageDoc>("automessages").find({}).toArray();
    expect(docs).toHaveLength(5);
    expect(new Set(docs.map((d) => d.senderId)).size).toBe(5);
    const involved = docs.flatMap((d) => [d.senderId, d.recipientId]);
    expect(new Set(involved).size).toBe(10);
    expect(await store.stats()).toMatchObject({ planned: 5, waiting: 5 });
    expect(await store.queueDue(new Date(Date.now() + 10), 500, SETTLE_MS, collect().publish)).toBe(5);
  });

  it("migrates AutoMessages stored in the old shape once", async () => {
    const db = freshDb();
    const old = db.collection<AutoMessageDoc & { claimToken: string | null }>("automessages");
    const base = { planId: "old", recipientId: "r", content: "hi", messageId: null, conversationId: null, lastError: null, deadLetteredAt: null, createdAt: new Date(), updatedAt: new Date(), sentAt: null, claimToken: null };
    const past = new Date(Date.now() - 60 * MINUTE);
    await old.insertMany([
      { ...base, _id: "w", senderId: "a", sendDate: past, isQueued: false, queuedAt: null, isSent: false, attempts: 0 },
      { ...base, _id: "q", senderId: "b", sendDate: past, isQueued: true, queuedAt: past, isSent: false, attempts: 0 },
      { ...base, _id: "s", senderId: "c", sendDate: past, isQueued: true, queuedAt: past, isSent: true, attempts: 1 },
    ]);
    await plans(db).insertOne({ _id: "old", status: "done", startedAt: past, finishedAt: past, messages: 3 });
    await old.createIndex({ isQueued: 1, sendDate: 1 }, { name: "due" });
    const store = createAutoMessageStore(db);
    await store.ensureIndexes();
    expect(await store.migrateKeys()).toBe(3);
    expect(await store.migrateKeys()).toBe(0);
    expect(await store.stats()).toMatchObject({ planned: 3, waiting: 1, queued: 1, sent: 1 });
    const now = new Date();
    const due = collect();
    expect(await store.queueDue(now, 500, SETTLE_MS, due.publish)).toBe(1);
    expect(due.published.map((d) => d._id)).toEqual(["w"]);
    const stale = collect();
    await store.requeueStale(now, 10 * MINUTE, 500, stale.publish);
    expect(stale.published.map((d) => d._id)).toEqual(["q"]);
    expect((await old.indexes()).map((i) => i.name)).not.toContain("due");
  });
});
