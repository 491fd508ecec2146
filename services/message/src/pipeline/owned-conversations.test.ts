import { describe, expect, it } from "vitest";
import type { ConversationDoc } from "../store/conversation-store.ts";
import { createOwnedConversations } from "./owned-conversations.ts";

const doc = (id: string, lastSeq = 0): ConversationDoc => ({
  _id: id,
  type: "direct",
  title: null,
  participantIds: ["ann", "bob"],
  lastSeq,
  messageCount: lastSeq,
  lastMessage: null,
  createdBy: "ann",
  createdAt: new Date(0),
  lastActivityAt: new Date(0),
});

/** A store that counts which ids it was asked for. */
function store(...docs: ConversationDoc[]) {
  const asked: string[][] = [];
  return {
    asked,
    findMany: async (ids: string[]) => {
      asked.push(ids);
      return docs.filter((d) => ids.includes(d._id));
    },
  };
}

describe("owned conversations", () => {
  it("asks the store only for what it has not seen, and counts where each came from", async () => {
    const reads: Array<[number, number]> = [];
    const owned = createOwnedConversations({ onRead: (memory, stored) => reads.push([memory, stored]) });
    const s = store(doc("a"), doc("b"));
    await owned.read(["a"], s);
    const both = await owned.read(["a", "b", "missing"], s);
    expect(both.map((d) => d._id).sort()).toEqual(["a", "b"]);
    expect(s.asked).toEqual([["a"], ["b", "missing"]]);
    expect(reads).toEqual([[0, 1], [1, 2]]);
    await owned.read(["a", "b"], s, true); // fresh: all from the store
    expect(s.asked.at(-1)).toEqual(["a", "b"]);
  });

  it("keeps what a batch advanced, as the store has it", async () => {
    const owned = createOwnedConversations();
    const s = store(doc("a", 4));
    await owned.read(["a"], s);
    const lastMessage = { messageId: "m5", senderId: "ann", content: "x".repeat(300), seq: 5, sentAt: new Date(5).toISOString() };
    owned.advanced([{ conversationId: "a", lastSeq: 5, messageCount: 5, lastMessage, lastActivityAt: new Date(5) }]);
    owned.advanced([{ conversationId: "not-read", lastSeq: 1, messageCount: 1 }]); // nothing to keep
    const [a] = await owned.read(["a"], s);
    expect(a).toMatchObject({ lastSeq: 5, messageCount: 5, lastActivityAt: new Date(5), lastMessage: { messageId: "m5", content: "x".repeat(200) } });
    expect(owned.size).toBe(1);
    expect(s.asked).toHaveLength(1);
  });

  it("drops the least recently read beyond its limit, and everything on clear or forget", async () => {
    const owned = createOwnedConversations({ limit: 2 });
    const s = store(doc("a"), doc("b"), doc("c"));
    await owned.read(["a", "b"], s);
    await owned.read(["a"], s); // a is now the most recent
    await owned.read(["c"], s); // b goes
    await owned.read(["a", "c"], s);
    expect(s.asked).toEqual([["a", "b"], ["c"]]);
    await owned.read(["b"], s);
    expect(s.asked.at(-1)).toEqual(["b"]);
    owned.forget(["b"]);
    expect(owned.size).toBe(1);
    owned.clear();
    expect(owned.size).toBe(0);
  });
});
