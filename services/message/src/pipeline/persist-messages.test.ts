import { MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { messageIdFor } from "@chat/shared";
import type { MessageChange, MessageDelete, MessageEdit, MessageSend } from "@chat/shared/contracts";
import type { ConversationAdvance, ConversationDoc, ConversationStore } from "../store/conversation-store.ts";
import { changedFields, messageDocOf, slotOf, type EntryDoc, type MessageDoc, type MessageStore } from "../store/message-store.ts";
import { createOwnedConversations } from "./owned-conversations.ts";
import { persistMessages, type PersistResult } from "./persist-messages.ts";

/**
 * In-memory stand-ins for the two stores, with MongoDB's behaviour where persistence relies on
 * it: an ordered insert stops at the first taken `_id` or `slot` with a duplicate-key error.
 */
function memoryStores(conversations: ConversationDoc[]) {
  const convs = new Map(conversations.map((c) => [c._id, structuredClone(c)]));
  const docs = new Map<string, EntryDoc>();
  const slots = new Map<string, EntryDoc>();
  const calls = { findMany: 0, findByIds: 0, failAdvance: false };
  const conversationStore = {
    findMany: async (ids: string[]) => {
      calls.findMany++;
      return ids.map((id) => structuredClone(convs.get(id))).filter((c): c is ConversationDoc => c !== undefined);
    },
    advance: async (advances: ConversationAdvance[]) => {
      if (calls.failAdvance) throw new Error("store away");
      for (const a of advances) {
        const c = convs.get(a.conversationId)!;
        c.lastSeq = Math.max(c.lastSeq, a.lastSeq);
        c.messageCount = Math.max(c.messageCount ?? 0, a.messageCount);
        if (a.lastMessage) c.lastMessage = a.lastMessage;
      }
    },
  } as unknown as ConversationStore;
  const messageStore = {
    findByIds: async (ids: string[]) => {
      if (ids.length > 0) calls.findByIds++;
      return ids.map((id) => docs.get(id)).filter((d): d is EntryDoc => d !== undefined).map((d) => structuredClone(d));
    },
    entryAt: async (conversationId: string, seq: number) => slots.get(slotOf(conversationId, seq)) ?? null,
    applyChanges: async (changes: MessageChange[]) => {
      for (const change of changes) Object.assign(docs.get(change.messageId)!, changedFields(change));
    },
    maxSeq: async (conversationId: string, lastSeq: number) => {
      let max = lastSeq;
      while (slots.has(slotOf(conversationId, max + 1))) max++;
      return max;
    },
    insertAllOrNone: async (batch: EntryDoc[]) => {
      if (batch.some((d) => docs.has(d._id) || slots.has(d.slot))) throw new MongoServerError({ message: "E11000 duplicate key", code: 11000 });
      for (const d of batch) {
        const copy = structuredClone(d);
        docs.set(d._id, copy);
        slots.set(d.slot, copy);
      }
    },
  } as unknown as MessageStore;
  return { convs, docs, slots, calls, conversationStore, messageStore };
}

const conversation = (id: string, participantIds: string[], lastSeq = 0): ConversationDoc => ({
  _id: id,
  type: "direct",
  title: null,
  participantIds,
  lastSeq,
  lastMessage: null,
  createdBy: participantIds[0]!,
  createdAt: new Date(),
  lastActivityAt: new Date(),
});

const send = (senderId: string, conversationId: string, clientMsgId: string, content = `text ${clientMsgId}`): MessageSend => ({
  v: 1,
  type: "send",
  messageId: messageIdFor(senderId, clientMsgId),
  clientMsgId,
  conversationId,
  senderId,
  content,
  kind: "user",
  sentAt: new Date().toISOString(),
});

let changes = 0;
const change = (type: "edit" | "delete", actorId: string, conversationId: string, messageId: string, content = "fixed"): MessageEdit | MessageDelete => {
  const base = { v: 1 as const, changeId: `00000000-0000-4000-8000-${String(++changes).padStart(12, "0")}`, conversationId, messageId, actorId, requestedAt: new Date().toISOString() };
  return type === "edit" ? { ...base, type, content } : { ...base, type };
};

/** What each delivered entry is, as `kind:seq` (a change with its target's seq). */
const laidOut = (r: PersistResult) =>
  r.toDeliver.map(({ entry }) => (entry.kind === "message" ? `message:${entry.message.seq}` : `${entry.change.type}:${entry.change.seq}->${entry.change.messageSeq}`));
const message = (d: PersistResult["toDeliver"][number]) => {
  if (d.entry.kind !== "message") throw new Error("not a message");
  return d.entry.message;
};

describe("persistMessages", () => {
  const setup = (lastSeq = 0) => {
    const stores = memoryStores([conversation("c1", ["ann", "bob"], lastSeq), conversation("c2", ["ann", "cid"])]);
    const deps = { conversations: stores.conversationStore, messages: stores.messageStore, owned: createOwnedConversations(), maxContentLength: 20 };
    return { ...stores, deps };
  };

  it("gives new messages contiguous seqs after lastSeq, in Kafka order, and advances the conversation", async () => {
    const { deps, convs } = setup(7);
    const records = [send("ann", "c1", "a"), send("bob", "c1", "b"), send("ann", "c2", "c")];
    const result = await persistMessages(records, ["t:0:1", "t:0:2", "t:1:1"], deps);
    expect(result.toDeliver.map((d) => [message(d).conversationId, message(d).seq])).toEqual([["c1", 8], ["c1", 9], ["c2", 1]]);
    expect(result.toDeliver[0]!.participantIds).toEqual(["ann", "bob"]);
    expect(convs.get("c1")!.lastSeq).toBe(9);
    expect(result.duplicates).toBe(0);
  });

  it("delivers a replayed record again with its stored seq, but a resend from another record only once", async () => {
    const { deps, docs } = setup();
    const first = send("ann", "c1", "a");
    await persistMessages([first], ["t:0:1"], deps);
    // The same Kafka record after a crash: delivered again (devices de-duplicate by messageId).
    const replay = await persistMessages([first], ["t:0:1"], deps);
    expect(replay.toDeliver.map((d) => message(d).seq)).toEqual([1]);
    expect(replay.duplicates).toBe(0);
    // The client sending it again (a new record): already delivered, not again.
    const resend = await persistMessages([first], ["t:0:9"], deps);
    expect(resend.toDeliver).toEqual([]);
    expect(resend.duplicates).toBe(1);
    expect(docs.size).toBe(1);
  });

  it("catches a resend among new sends on the retry, and lays the new ones out as if it were not there", async () => {
    const { deps, docs, convs } = setup();
    const a = send("ann", "c1", "a");
    await persistMessages([a], ["t:0:1"], deps);
    const result = await persistMessages([send("bob", "c1", "x"), a, send("ann", "c1", "y")], ["t:0:2", "t:0:3", "t:0:4"], deps);
    expect(result.toDeliver.map((d) => [message(d).clientMsgId, message(d).seq])).toEqual([["x", 2], ["y", 3]]);
    expect(result.duplicates).toBe(1);
    expect(docs.size).toBe(3);
    expect(convs.get("c1")).toMatchObject({ lastSeq: 3, messageCount: 3, lastMessage: { content: "text y" } });
  });

  it("never leaks a message into another conversation when a clientMsgId is reused there", async () => {
    const { deps } = setup();
    await persistMessages([send("ann", "c1", "same", "secret")], ["t:0:1"], deps);
    const reused = await persistMessages([send("ann", "c2", "same", "other")], ["t:1:1"], deps);
    expect(reused.toDeliver).toEqual([]);
    expect(reused.duplicates).toBe(1);
  });

  it("counts a message repeated within one batch once", async () => {
    const { deps } = setup();
    const r = send("ann", "c1", "a");
    const result = await persistMessages([r, r], ["t:0:1", "t:0:2"], deps);
    expect(result.toDeliver).toHaveLength(1);
    expect(result.duplicates).toBe(1);
  });

  it("retries from the stored maximum when another writer took the next seq without advancing lastSeq", async () => {
    const { deps, docs } = setup(2);
    // A zombie consumer stored seqs 3 and 4 of c1 and died before advancing lastSeq.
    await deps.messages.insertAllOrNone([3, 4].map((seq) => messageDocOf(send("bob", "c1", `z${seq}`), seq, "zombie", new Date())));
    const result = await persistMessages([send("ann", "c1", "a")], ["t:0:5"], deps);
    expect(result.toDeliver.map((d) => message(d).seq)).toEqual([5]);
    expect([...docs.values()].map((d) => d.seq).sort()).toEqual([3, 4, 5]);
  });

  it("refuses records for an unknown conversation, from a non-member, or too long, and stores the rest", async () => {
    const { deps } = setup();
    const records = [send("ann", "nope", "a"), send("cid", "c1", "b"), send("ann", "c1", "c", "x".repeat(21)), send("bob", "c1", "d")];
    const result = await persistMessages(records, ["t:0:1", "t:0:2", "t:0:3", "t:0:4"], deps);
    expect(result.rejected.map((r) => r.reason)).toEqual(["CONVERSATION_NOT_FOUND", "NOT_A_MEMBER", "CONTENT_TOO_LONG"]);
    expect(result.toDeliver.map((d) => [message(d).clientMsgId, message(d).seq])).toEqual([["d", 1]]);
  });

  describe("conversations kept in memory", () => {
    it("reads a conversation from the store once while this consumer owns it, and looks no new send up", async () => {
      const { deps, calls, convs } = setup();
      for (const id of ["a", "b", "c"]) await persistMessages([send("ann", "c1", id)], [`t:0:${id}`], deps);
      expect(calls.findMany).toBe(1);
      expect(calls.findByIds).toBe(0);
      expect(convs.get("c1")).toMatchObject({ lastSeq: 3, messageCount: 3, lastMessage: { content: "text c" } });
      deps.owned.clear(); // a rebalance
      await persistMessages([send("ann", "c1", "d")], ["t:0:d"], deps);
      expect(calls.findMany).toBe(2);
    });

    it("goes back to the store when another writer moved the conversation meanwhile", async () => {
      const { deps, convs, slots } = setup();
      await persistMessages([send("ann", "c1", "a")], ["t:0:1"], deps);
      // Another consumer (a zombie, or this partition's owner while it was elsewhere) stored
      // seq 2 and advanced the conversation; this one's memory still says seq 1.
      const theirs = send("bob", "c1", "theirs");
      await deps.messages.insertAllOrNone([{ ...messageDocOf(theirs, 2, "elsewhere", new Date()), n: 2 }]);
      const c1 = convs.get("c1")!;
      Object.assign(c1, { lastSeq: 2, messageCount: 2, lastMessage: { messageId: theirs.messageId, senderId: "bob", content: theirs.content, seq: 2, sentAt: theirs.sentAt } });
      // An edit of the message this consumer never saw: it is the conversation's last message.
      const result = await persistMessages([change("edit", "bob", "c1", theirs.messageId, "edited")], ["t:0:2"], deps);
      expect(laidOut(result)).toEqual(["edited:3->2"]);
      expect(slots.get(slotOf("c1", 3))).toMatchObject({ change: "edited", messageId: theirs.messageId });
      expect(convs.get("c1")).toMatchObject({ lastSeq: 3, messageCount: 2, lastMessage: { messageId: theirs.messageId, content: "edited" } });
    });

    it("forgets the conversations of a batch that failed halfway", async () => {
      const { deps, calls, convs } = setup();
      await persistMessages([send("ann", "c1", "a")], ["t:0:1"], deps);
      calls.failAdvance = true; // stored, but the conversation not advanced
      await expect(persistMessages([send("ann", "c1", "b")], ["t:0:2"], deps)).rejects.toThrow("store away");
      calls.failAdvance = false;
      expect(deps.owned.size).toBe(0);
      const retry = await persistMessages([send("ann", "c1", "b")], ["t:0:2"], deps);
      expect(retry.toDeliver.map((d) => message(d).seq)).toEqual([2]);
      await persistMessages([send("ann", "c1", "c")], ["t:0:3"], deps);
      expect(convs.get("c1")).toMatchObject({ lastSeq: 3, messageCount: 3 });
    });
  });

  describe("edits and deletes", () => {
    const origins = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}:${i}`);

    it("give a change its own seq after earlier messages, apply it to the message, and leave the message count alone", async () => {
      const { deps, docs, convs } = setup();
      const a = send("ann", "c1", "a");
      await persistMessages([a, send("bob", "c1", "b")], origins("t:0", 2), deps);
      const result = await persistMessages([change("edit", "ann", "c1", a.messageId, "new text"), change("delete", "ann", "c1", a.messageId)], origins("t:1", 2), deps);
      expect(laidOut(result)).toEqual(["edited:3->1", "deleted:4->1"]);
      const stored = docs.get(a.messageId) as MessageDoc;
      expect(stored.deletedAt).toBeDefined();
      expect(stored.content).toBe("");
      expect(convs.get("c1")).toMatchObject({ lastSeq: 4, messageCount: 2 });
      // The changed message as it now is travels with each change (for `message.stored`).
      const last = result.toDeliver[1]!.entry;
      expect(last.kind === "change" && last.message).toMatchObject({ messageId: a.messageId, content: "", seq: 1 });
    });

    it("store a message edited in its own batch with its final content, after delivering it as sent", async () => {
      const { deps, docs, convs } = setup();
      const a = send("ann", "c1", "a", "typo");
      const result = await persistMessages([a, change("edit", "ann", "c1", a.messageId, "fixed")], origins("t:0", 2), deps);
      expect(laidOut(result)).toEqual(["message:1", "edited:2->1"]);
      expect(message(result.toDeliver[0]!).content).toBe("typo");
      expect(docs.get(a.messageId)).toMatchObject({ content: "fixed", seq: 1, n: 1 });
      expect(convs.get("c1")!.lastMessage).toMatchObject({ messageId: a.messageId, content: "fixed" });
    });

    it("refuse a change by someone else or of an unknown message, and ignore one of a deleted message", async () => {
      const { deps } = setup();
      const a = send("ann", "c1", "a");
      await persistMessages([a], ["t:0:0"], deps);
      const result = await persistMessages(
        [change("edit", "bob", "c1", a.messageId), change("delete", "ann", "c1", messageIdFor("ann", "nope")), change("delete", "ann", "c1", a.messageId), change("edit", "ann", "c1", a.messageId)],
        origins("t:0:1", 4),
        deps,
      );
      expect(result.rejected.map((r) => r.reason)).toEqual(["NOT_THE_SENDER", "MESSAGE_NOT_FOUND"]);
      expect(laidOut(result)).toEqual(["deleted:2->1"]);
      expect(result.ignored).toBe(1);
    });

    it("deliver a replayed change again with its stored seq, applied once", async () => {
      const { deps, docs } = setup();
      const a = send("ann", "c1", "a");
      await persistMessages([a], ["t:0:0"], deps);
      const edit = change("edit", "ann", "c1", a.messageId, "v2");
      await persistMessages([edit], ["t:0:1"], deps);
      const replay = await persistMessages([edit], ["t:0:1"], deps);
      expect(laidOut(replay)).toEqual(["edited:2->1"]);
      expect(docs.size).toBe(2);
      expect(docs.get(a.messageId)).toMatchObject({ content: "v2" });
    });
  });
});
