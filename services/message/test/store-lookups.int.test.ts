import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, createMongo, messageIdFor, type MongoDependency } from "@chat/shared";
import { medianMs, stackEnv, uniqueName } from "@chat/shared/testing";
import { advancedConversation, createConversationStore, type ConversationAdvance, type ConversationDoc } from "../src/store/conversation-store.ts";
import { createMessageStore, messageDocOf, slotOf, type MessageDoc } from "../src/store/message-store.ts";

const logger = createLogger({ name: "test", level: "silent" });

function messageDoc(conversationId: string, seq: number): MessageDoc {
  const senderId = `u-${conversationId}`;
  const clientMsgId = `c${seq}`;
  const message = { messageId: messageIdFor(senderId, clientMsgId), conversationId, senderId, clientMsgId, content: `message ${seq} of ${conversationId}`, kind: "user" as const, sentAt: new Date().toISOString() };
  return messageDocOf(message, seq, `t:0:${seq}`, new Date());
}

/**
 * Every read of the message pipeline is a key lookup on the Mongo-wire stand-in, which scans
 * for anything else: a history page must cost the same with 40,000 other messages stored.
 */
describe("message and conversation stores: key lookups only", () => {
  let mongo: MongoDependency;
  const store = () => createMessageStore(mongo.db);

  beforeAll(async () => {
    mongo = await createMongo({ url: stackEnv.mongoUrl, dbName: uniqueName("lookups").replace(/-/g, "_"), logger });
    await store().ensureIndexes();
  });
  afterAll(async () => {
    await mongo.db.dropDatabase().catch(() => undefined);
    await mongo.close();
  });

  it("pages history by computed slots: the same seqs, order and hasMore as a sorted query", async () => {
    const messages = store();
    await messages.insertAllOrNone(Array.from({ length: 120 }, (_, i) => messageDoc("conv-a", i + 1)));
    const conv = { _id: "conv-a", lastSeq: 110 }; // a writer stored 10 more before it could advance lastSeq
    const seqs = (page: { messages: Array<{ seq: number }> }) => page.messages.map((m) => m.seq);

    const latest = await messages.history(conv, { limit: 50 });
    expect(seqs(latest)).toEqual(Array.from({ length: 50 }, (_, i) => 71 + i));
    expect(latest.hasMore).toBe(true);
    const before = await messages.history(conv, { limit: 50, beforeSeq: 30 });
    expect(seqs(before)).toEqual(Array.from({ length: 29 }, (_, i) => i + 1));
    expect(before.hasMore).toBe(false);
    const after = await messages.history(conv, { limit: 50, afterSeq: 100 });
    expect(seqs(after)).toEqual(Array.from({ length: 20 }, (_, i) => 101 + i));
    expect(after.hasMore).toBe(false);
    expect((await messages.history(conv, { limit: 10, afterSeq: 50 })).hasMore).toBe(true);
    expect(await messages.maxSeq("conv-a", 110)).toBe(120);
    expect((await messages.findByIds([messageDoc("conv-a", 7)._id]))[0]?.seq).toBe(7);
  });

  it("refuses a second message in one slot, and the same message twice", async () => {
    const messages = store();
    await messages.insertAllOrNone([messageDoc("conv-b", 1)]);
    await expect(messages.insertAllOrNone([{ ...messageDoc("conv-b", 2), slot: slotOf("conv-b", 1) }])).rejects.toMatchObject({ code: 11000 });
    await expect(messages.insertAllOrNone([{ ...messageDoc("conv-b", 1), slot: slotOf("conv-b", 9) }])).rejects.toMatchObject({ code: 11000 });
    // All or none: what the call stored before the taken slot is gone again.
    const batch = [messageDoc("conv-b", 2), messageDoc("conv-b", 3), { ...messageDoc("conv-b", 4), slot: slotOf("conv-b", 1) }, messageDoc("conv-b", 5)];
    await expect(messages.insertAllOrNone(batch)).rejects.toMatchObject({ code: 11000 });
    expect(await messages.findByIds(batch.map((d) => d._id))).toEqual([]);
    expect((await messages.findByIds([messageDoc("conv-b", 1)._id])).map((d) => d.seq)).toEqual([1]);
  });

  it("a history page takes no longer with 40,000 other messages stored", async () => {
    const messages = store();
    await messages.insertAllOrNone(Array.from({ length: 200 }, (_, i) => messageDoc("conv-c", i + 1)));
    const conv = { _id: "conv-c", lastSeq: 200 };
    const page = () => messages.history(conv, { limit: 50, afterSeq: 100 });
    await page();
    const small = await medianMs(15, page);
    for (let batch = 0; batch < 40; batch++) {
      const conversationId = `filler-${batch}`;
      await messages.insertAllOrNone(Array.from({ length: 1000 }, (_, i) => messageDoc(conversationId, i + 1)));
    }
    const large = await medianMs(15, page);
    // A scan of 40k documents takes hundreds of ms on the stand-in; a lookup stays where it was
    // (the margin absorbs a busy box: the suite runs files side by side).
    expect(large, `page median ${small.toFixed(1)} ms with 200 messages, ${large.toFixed(1)} ms with 40,200`).toBeLessThan(small * 3 + 40);
  }, 120_000);

  it("lists a user's conversations and contacts from their inbox, newest activity first, with unread counts", async () => {
    const conversations = createConversationStore(mongo.db);
    const doc = (id: string, participantIds: string[], at: number): ConversationDoc => ({
      _id: id,
      type: participantIds.length === 2 ? "direct" : "group",
      title: null,
      participantIds,
      lastSeq: 0,
      lastMessage: null,
      createdBy: participantIds[0]!,
      createdAt: new Date(at),
      lastActivityAt: new Date(at),
    });
    await conversations.create(doc("k1", ["alice", "bob"], 1000));
    await conversations.create(doc("k2", ["alice", "carol", "dave"], 2000));
    await conversations.create(doc("k3", ["bob", "carol"], 3000));
    await conversations.advance([
      {
        conversationId: "k1",
        lastSeq: 3,
        messageCount: 3,
        lastMessage: { messageId: "m1", senderId: "bob", content: "hi", seq: 3, sentAt: new Date(4000).toISOString() },
        lastActivityAt: new Date(4000),
      },
    ]);
    // What the message service keeps in memory of a conversation is what the store made of it.
    for (const a of [
      { conversationId: "k2", lastSeq: 1, messageCount: 1, lastMessage: { messageId: "m2", senderId: "carol", content: "y".repeat(500), seq: 1, sentAt: new Date(2500).toISOString() }, lastActivityAt: new Date(2500) },
      { conversationId: "k2", lastSeq: 2, messageCount: 1 },
      { conversationId: "k2", lastSeq: 1, messageCount: 1, lastActivityAt: new Date(2200) },
    ] satisfies ConversationAdvance[]) {
      const before = (await conversations.findById("k2"))!;
      await conversations.advance([a]);
      expect(advancedConversation(before, a)).toEqual(await conversations.findById("k2"));
    }
    expect(await conversations.markRead("k1", "alice", 2, 2)).toBe(true);
    expect(await conversations.markRead("k1", "alice", 1, 1)).toBe(false); // forward only

    const list = await conversations.listFor("alice", 10);
    expect(list.map((c) => c.id)).toEqual(["k1", "k2"]);
    expect(list[0]).toMatchObject({ lastSeq: 3, lastReadSeq: 2, unreadCount: 1, lastMessage: { content: "hi" } });
    const contacts = await conversations.contactsOfMany(["alice", "carol", "nobody"]);
    expect([...contacts.keys()].sort()).toEqual(["alice", "carol", "nobody"]);
    expect(contacts.get("alice")!.sort()).toEqual(["bob", "carol", "dave"]);
    expect(contacts.get("carol")!.sort()).toEqual(["alice", "bob", "dave"]);
    expect(contacts.get("nobody")).toEqual([]);
    // An older message never moves lastSeq back.
    await conversations.advance([{ conversationId: "k1", lastSeq: 2, messageCount: 2, lastActivityAt: new Date(1500) }]);
    expect(await conversations.findById("k1")).toMatchObject({ lastSeq: 3, messageCount: 3, lastActivityAt: new Date(4000) });
  });

  it("migrates data stored before slots and inboxes, once", async () => {
    const db = mongo.client.db(uniqueName("migrate").replace(/-/g, "_"));
    try {
      const old = db.collection<Record<string, unknown> & { _id: string }>("messages");
      await old.createIndex({ dedupeKey: 1 }, { unique: true, name: "sender_clientmsg_unique" });
      await old.insertMany(
        [1, 2, 3].map((seq) => {
          const { slot: _slot, ...doc } = messageDoc("conv-old", seq);
          return { ...doc, dedupeKey: `${doc.senderId}\u0000${doc.clientMsgId}` };
        }),
      );
      await db.collection<ConversationDoc>("conversations").insertOne({
        _id: "conv-old",
        type: "direct",
        title: null,
        participantIds: ["erin", "frank"],
        lastSeq: 3,
        lastMessage: null,
        createdBy: "erin",
        createdAt: new Date(),
        lastActivityAt: new Date(),
      });
      const messages = createMessageStore(db);
      const conversations = createConversationStore(db);
      expect(await messages.migrateSlots()).toBe(3);
      expect(await conversations.migrateInboxes()).toBe(1);
      expect(await messages.migrateSlots()).toBe(0);
      expect(await conversations.migrateInboxes()).toBe(0);
      await messages.ensureIndexes();
      // New messages carry no dedupeKey: the old unique index on it must be gone.
      await messages.insertAllOrNone([messageDoc("conv-old", 4), messageDoc("conv-old", 5)]);
      const page = await messages.history({ _id: "conv-old", lastSeq: 5 }, { limit: 50 });
      expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect((await conversations.listFor("frank", 10)).map((c) => c.id)).toEqual(["conv-old"]);
    } finally {
      await db.dropDatabase().catch(() => undefined);
    }
  });
});
