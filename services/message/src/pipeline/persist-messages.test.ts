import { MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { messageIdFor } from "@chat/shared";
import type { MessageSend, StoredMessage } from "@chat/shared/contracts";
import type { ConversationDoc, ConversationStore } from "../store/conversation-store.ts";
import { messageDocOf, slotOf, type MessageDoc, type MessageStore } from "../store/message-store.ts";
import { persistMessages } from "./persist-messages.ts";

/**
 * In-memory stand-ins for the two stores, with MongoDB's behaviour where persistence relies on
 * it: an ordered insert stops at the first taken `_id` or `slot` with a duplicate-key error.
 */
function memoryStores(conversations: ConversationDoc[]) {
  const convs = new Map(conversations.map((c) => [c._id, structuredClone(c)]));
  const docs = new Map<string, MessageDoc>();
  const slots = new Set<string>();
  const conversationStore = {
    findMany: async (ids: string[]) => ids.map((id) => convs.get(id)).filter((c): c is ConversationDoc => c !== undefined),
    advance: async (last: StoredMessage[]) => {
      for (const m of last) {
        const c = convs.get(m.conversationId)!;
        c.lastSeq = Math.max(c.lastSeq, m.seq);
      }
    },
  } as unknown as ConversationStore;
  const messageStore = {
    findByIds: async (ids: string[]) => ids.map((id) => docs.get(id)).filter((d): d is MessageDoc => d !== undefined),
    maxSeq: async (conversationId: string, lastSeq: number) => {
      let max = lastSeq;
      while (slots.has(slotOf(conversationId, max + 1))) max++;
      return max;
    },
    insertMany: async (batch: MessageDoc[]) => {
      for (const d of batch) {
        if (docs.has(d._id) || slots.has(d.slot)) throw new MongoServerError({ message: "E11000 duplicate key", code: 11000 });
        docs.set(d._id, d);
        slots.add(d.slot);
      }
    },
  } as unknown as MessageStore;
  return { convs, docs, conversationStore, messageStore };
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
  messageId: messageIdFor(senderId, clientMsgId),
  clientMsgId,
  conversationId,
  senderId,
  content,
  kind: "user",
  sentAt: new Date().toISOString(),
});

describe("persistMessages", () => {
  const setup = (lastSeq = 0) => {
    const stores = memoryStores([conversation("c1", ["ann", "bob"], lastSeq), conversation("c2", ["ann", "cid"])]);
    const deps = { conversations: stores.conversationStore, messages: stores.messageStore, maxContentLength: 20 };
    return { ...stores, deps };
  };

  it("gives new messages contiguous seqs after lastSeq, in Kafka order, and advances the conversation", async () => {
    const { deps, convs } = setup(7);
    const records = [send("ann", "c1", "a"), send("bob", "c1", "b"), send("ann", "c2", "c")];
    const result = await persistMessages(records, ["t:0:1", "t:0:2", "t:1:1"], deps);
    expect(result.toDeliver.map((d) => [d.message.conversationId, d.message.seq])).toEqual([["c1", 8], ["c1", 9], ["c2", 1]]);
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
    expect(replay.toDeliver.map((d) => d.message.seq)).toEqual([1]);
    expect(replay.duplicates).toBe(0);
    // The client sending it again (a new record): already delivered, not again.
    const resend = await persistMessages([first], ["t:0:9"], deps);
    expect(resend.toDeliver).toEqual([]);
    expect(resend.duplicates).toBe(1);
    expect(docs.size).toBe(1);
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
    await deps.messages.insertMany([3, 4].map((seq) => messageDocOf(send("bob", "c1", `z${seq}`), seq, "zombie", new Date())));
    const result = await persistMessages([send("ann", "c1", "a")], ["t:0:5"], deps);
    expect(result.toDeliver.map((d) => d.message.seq)).toEqual([5]);
    expect([...docs.values()].map((d) => d.seq).sort()).toEqual([3, 4, 5]);
  });

  it("refuses records for an unknown conversation, from a non-member, or too long, and stores the rest", async () => {
    const { deps } = setup();
    const records = [send("ann", "nope", "a"), send("cid", "c1", "b"), send("ann", "c1", "c", "x".repeat(21)), send("bob", "c1", "d")];
    const result = await persistMessages(records, ["t:0:1", "t:0:2", "t:0:3", "t:0:4"], deps);
    expect(result.rejected.map((r) => r.reason)).toEqual(["CONVERSATION_NOT_FOUND", "NOT_A_MEMBER", "CONTENT_TOO_LONG"]);
    expect(result.toDeliver.map((d) => [d.message.clientMsgId, d.message.seq])).toEqual([["d", 1]]);
  });
});
