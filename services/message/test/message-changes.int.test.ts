import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageChange, StoredMessage } from "../../../shared/src/contracts/index.ts";
import { waitFor } from "../../../shared/src/testing/index.ts";
import { call, registerUser, type TestUser } from "../../../test/helpers/api.ts";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { createConversation, type ConversationView } from "../../../test/helpers/conversations.ts";
import { createClientTracker, expectOk } from "../../../test/helpers/sockets.ts";

interface Page {
  messages: StoredMessage[];
  changes: MessageChange[];
  hasMore: boolean;
}

describe("edit and delete", () => {
  let cluster: TestCluster;
  let gw: (i: number) => string;
  const clients = createClientTracker();
  const as = (user: TestUser) => ({ token: user.accessToken, ip: user.ip });
  const page = async (user: TestUser, conversationId: string, query = "limit=200") => {
    const res = await call<Page>(gw(1), "GET", `/api/conversations/${conversationId}/messages?${query}`, undefined, as(user));
    expect(res.status).toBe(200);
    return res.body;
  };
  const conversationOf = async (user: TestUser, id: string) =>
    (await call<{ conversation: ConversationView }>(gw(0), "GET", `/api/conversations/${id}`, undefined, as(user))).body.conversation;

  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2 });
    gw = (i) => cluster.gateways[i]!.url;
  });
  afterAll(async () => {
    clients.closeAll();
    await cluster?.stop();
  });

  it("over REST: history shows the latest content with editedAt and a tombstone, with the changes in their own seqs; unread counts leave them out", async () => {
    const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(1))]);
    const conv = await createConversation(gw(0), alice, [bob]);
    const bobDevice = await clients.connect(gw(1), bob.accessToken);
    const alicePhone = await clients.connect(gw(0), alice.accessToken);
    // One after the other: three REST sends at once may be stored in any order.
    const sent = [];
    for (const [i, content] of ["first", "second", "third"].entries()) {
      sent.push(await call<{ messageId: string }>(gw(0), "POST", `/api/conversations/${conv.id}/messages`, { content, clientMsgId: `h-${i}` }, as(alice)));
    }
    const [first, second] = sent.map((r) => r.body.messageId);
    await waitFor(async () => (await page(bob, conv.id)).messages.length === 3, { what: "3 stored" });

    const edit = await call(gw(1), "PATCH", `/api/conversations/${conv.id}/messages/${first}`, { content: "first, fixed" }, as(alice));
    expect(edit).toMatchObject({ status: 202, body: { conversationId: conv.id, messageId: first, changeId: expect.any(String) } });
    const del = await call(gw(0), "DELETE", `/api/conversations/${conv.id}/messages/${second}`, undefined, as(alice));
    expect(del).toMatchObject({ status: 202, body: { conversationId: conv.id, messageId: second, changeId: expect.any(String) } });

    // Both devices (on two gateways, the sender's own included) hear of both.
    for (const device of [bobDevice, alicePhone]) {
      await waitFor(() => device.events.filter((e) => e.event === "message_edited" || e.event === "message_deleted").length === 2, { what: "both changes" });
    }
    const history = await waitFor(async () => {
      const p = await page(bob, conv.id);
      return p.changes.length === 2 && p;
    }, { what: "both changes stored" });
    expect(history.messages).toEqual([
      expect.objectContaining({ messageId: first, seq: 1, content: "first, fixed", editedAt: expect.any(String) }),
      expect.objectContaining({ messageId: second, seq: 2, content: "", deletedAt: expect.any(String) }),
      expect.objectContaining({ seq: 3, content: "third" }),
    ]);
    expect(history.messages[2]).not.toHaveProperty("editedAt");
    expect(history.changes).toEqual([
      expect.objectContaining({ type: "edited", seq: 4, messageId: first, messageSeq: 1, content: "first, fixed", actorId: alice.id }),
      expect.objectContaining({ type: "deleted", seq: 5, messageId: second, messageSeq: 2, actorId: alice.id }),
    ]);
    // A catch-up page after seq 3 is the two changes alone.
    expect(await page(bob, conv.id, "afterSeq=3")).toMatchObject({ messages: [], changes: [{ seq: 4 }, { seq: 5 }], hasMore: false });

    // Three messages unread for Bob, not five; reading up to the last change reads everything.
    expect(await conversationOf(bob, conv.id)).toMatchObject({ lastSeq: 5, unreadCount: 3 });
    expectOk(await bobDevice.request("mark_read", { conversationId: conv.id, seq: 3 }));
    await waitFor(async () => (await conversationOf(bob, conv.id)).unreadCount === 0, { what: "read" });
    expect((await conversationOf(bob, conv.id)).lastMessage).toMatchObject({ seq: 3, content: "third" });
    // An edit after that leaves nothing unread.
    await call(gw(0), "PATCH", `/api/conversations/${conv.id}/messages/${sent[2]!.body.messageId}`, { content: "third!" }, as(alice));
    const after = await waitFor(async () => {
      const c = await conversationOf(bob, conv.id);
      return c.lastSeq === 6 && c;
    }, { what: "the third edit" });
    expect(after).toMatchObject({ unreadCount: 0, lastMessage: { content: "third!" } });
  });

  it("refuses what may not be changed, changing nothing", async () => {
    const [alice, bob, eve] = await Promise.all([registerUser(gw(0)), registerUser(gw(0)), registerUser(gw(1))]);
    const conv = await createConversation(gw(0), alice, [bob]);
    const sent = await call<{ messageId: string }>(gw(0), "POST", `/api/conversations/${conv.id}/messages`, { content: "keep me", clientMsgId: "k-1" }, as(alice));
    const id = sent.body.messageId;
    await waitFor(async () => (await page(alice, conv.id)).messages.length === 1, { what: "stored" });
    const path = `/api/conversations/${conv.id}/messages/${id}`;

    expect(await call(gw(0), "PATCH", path, { content: "bob's now" }, as(bob))).toMatchObject({ status: 403, body: { error: { code: "NOT_THE_SENDER" } } });
    expect(await call(gw(0), "DELETE", path, undefined, as(bob))).toMatchObject({ status: 403, body: { error: { code: "NOT_THE_SENDER" } } });
    expect(await call(gw(1), "PATCH", path, { content: "eve" }, as(eve))).toMatchObject({ status: 403, body: { error: { code: "NOT_A_MEMBER" } } });
    const unknown = `/api/conversations/${conv.id}/messages/00000000-0000-4000-8000-000000000000`;
    expect(await call(gw(0), "PATCH", unknown, { content: "x" }, as(alice))).toMatchObject({ status: 404, body: { error: { code: "MESSAGE_NOT_FOUND" } } });
    expect(await call(gw(0), "DELETE", unknown, undefined, as(alice))).toMatchObject({ status: 404, body: { error: { code: "MESSAGE_NOT_FOUND" } } });
    expect(await call(gw(0), "PATCH", path, { content: "x".repeat(4001) }, as(alice))).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_FAILED" } } });
    expect(await call(gw(0), "PATCH", path, { content: "   " }, as(alice))).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_FAILED" } } });
    expect(await call(gw(0), "PATCH", path, { content: 5 }, as(alice))).toMatchObject({ status: 400 });
    expect(await call(gw(0), "PATCH", path, { content: "x", extra: 1 }, as(alice))).toMatchObject({ status: 400 });
    expect(await call(gw(0), "PATCH", `/api/conversations/${conv.id}/messages/bad%20id`, { content: "x" }, as(alice))).toMatchObject({ status: 400 });
    expect(await call(gw(0), "DELETE", path, undefined, {})).toMatchObject({ status: 401 });
    const socket = await clients.connect(gw(1), bob.accessToken);
    expect(await socket.request("delete_message", { conversationId: conv.id, messageId: id })).toEqual({
      ok: false,
      error: { code: "NOT_THE_SENDER", message: "Only the sender may change a message" },
    });
    expect(await socket.request("edit_message", { conversationId: conv.id, messageId: id })).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    expect((await page(alice, conv.id)).messages).toEqual([expect.objectContaining({ content: "keep me", seq: 1 })]);
    expect((await page(alice, conv.id)).changes).toEqual([]);

    // Deleted stays deleted: a second delete changes nothing, an edit is refused.
    expect(await call(gw(0), "DELETE", path, undefined, as(alice))).toMatchObject({ status: 202 });
    await waitFor(async () => (await page(alice, conv.id)).changes.length === 1, { what: "deleted" });
    expect(await call(gw(0), "DELETE", path, undefined, as(alice))).toMatchObject({ status: 200, body: { changeId: null } });
    expect(await call(gw(0), "PATCH", path, { content: "back" }, as(alice))).toMatchObject({ status: 409, body: { error: { code: "MESSAGE_DELETED" } } });
    const final = await page(alice, conv.id);
    expect(final.messages).toEqual([expect.objectContaining({ content: "", seq: 1, deletedAt: expect.any(String) })]);
    expect(final.changes).toHaveLength(1);
  });
});
