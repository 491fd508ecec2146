import { afterAll, describe, expect, it } from "vitest";
import type { StoredMessage } from "../../../shared/src/contracts/index.ts";
import { sleep } from "../../../shared/src/index.ts";
import { waitFor } from "../../../shared/src/testing/index.ts";
import { registerUser, type TestUser } from "../../../test/helpers/api.ts";
import { createConversation, history } from "../../../test/helpers/conversations.ts";
import type { TransportClient, TransportFactory } from "./transport-clients.ts";

const messagesOf = (c: TransportClient) => c.on("message_received").map((p) => (p as { message: StoredMessage }).message);

/**
 * The behaviour every client transport must show, word for word the same: they all run on
 * the gateway's one connection core. `gateways()` gives the URLs of a running cluster of at
 * least two gateways (started with the default per-connection rate limit).
 */
export function transportSuite(transport: TransportFactory, gateways: () => string[]) {
  describe(`transport: ${transport.name}`, () => {
    const open: TransportClient[] = [];
    const gw = (i: number) => gateways()[i]!;
    const connect = async (i: number, user: TestUser | undefined, resume?: Record<string, number>) => {
      const c = await transport.connect(gw(i), user?.accessToken, resume);
      open.push(c);
      return c;
    };
    afterAll(() => {
      for (const c of open.splice(0)) c.close();
    });

    it("refuses a missing or bad token, and a bad handshake resume, with the same code and message", async () => {
      const user = await registerUser(gw(0));
      await expect(transport.connect(gw(0), undefined)).rejects.toMatchObject({ code: "TOKEN_MISSING", message: "Missing access token" });
      await expect(transport.connect(gw(0), "not.a.jwt")).rejects.toMatchObject({ code: "TOKEN_INVALID", message: "Invalid access token" });
      await expect(transport.connect(gw(1), user.accessToken, { "not an id!": -1 })).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message: "Invalid resume in handshake",
      });
    });

    it("acks send_message with its id and delivers it to a device on the other gateway", async () => {
      const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(1))]);
      const conv = await createConversation(gw(0), alice, [bob]);
      const [a, b] = await Promise.all([connect(0, alice), connect(1, bob)]);
      const ack = await a.request("send_message", { conversationId: conv.id, content: "hello", clientMsgId: "s-1" });
      expect(ack).toEqual({ ok: true, messageId: expect.any(String) });
      const [got] = await waitFor(() => messagesOf(b).length === 1 && messagesOf(b), { what: "delivery" });
      expect(got).toMatchObject({ messageId: ack.ok && ack.messageId, conversationId: conv.id, senderId: alice.id, content: "hello", seq: 1 });
    });

    it("keeps a burst from one device in the order it was sent", async () => {
      const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(1))]);
      const conv = await createConversation(gw(0), alice, [bob]);
      const [a, b] = await Promise.all([connect(0, alice), connect(1, bob)]);
      const acks = await Promise.all(
        Array.from({ length: 30 }, (_, i) => a.request("send_message", { conversationId: conv.id, content: `burst ${i}`, clientMsgId: `b-${i}` })),
      );
      expect(acks.every((x) => x.ok)).toBe(true);
      const got = await waitFor(() => messagesOf(b).length === 30 && messagesOf(b), { what: "30 messages" });
      expect(got.map((m) => m.content)).toEqual(Array.from({ length: 30 }, (_, i) => `burst ${i}`));
      expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    });

    it("answers an unknown event with UNKNOWN_EVENT", async () => {
      const c = await connect(0, await registerUser(gw(0)));
      expect(await c.request("no_such_event", {})).toEqual({ ok: false, error: { code: "UNKNOWN_EVENT", message: "Unknown event: no_such_event" } });
    });

    it("answers an invalid payload with VALIDATION_FAILED and the failing fields", async () => {
      const c = await connect(1, await registerUser(gw(1)));
      expect(await c.request("send_message", { conversationId: "x", content: 1 })).toEqual({
        ok: false,
        error: {
          code: "VALIDATION_FAILED",
          message: "Invalid payload",
          details: { fields: expect.arrayContaining([{ field: "content", message: expect.any(String) }, { field: "clientMsgId", message: expect.any(String) }]) },
        },
      });
    });

    it("limits the events of one connection with RATE_LIMITED", async () => {
      const alice = await registerUser(gw(0));
      const c = await connect(0, alice);
      // The default is 50 events per second with bursts of 100.
      const acks = await Promise.all(Array.from({ length: 200 }, () => c.request("leave_room", { conversationId: "some-room" })));
      const limited = acks.filter((x) => !x.ok);
      expect(limited.length).toBeGreaterThan(50);
      expect(limited[0]).toEqual({ ok: false, error: { code: "RATE_LIMITED", message: "Too many events on this connection", details: { retryAfterSeconds: 1 } } });
      expect(acks.filter((x) => x.ok).length).toBeGreaterThanOrEqual(100);
    });

    it("resumes after a reconnect on the other gateway with no gap and no duplicate", async () => {
      const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(0))]);
      const conv = await createConversation(gw(0), alice, [bob]);
      const a = await connect(0, alice);
      const b = await connect(1, bob);
      for (let i = 1; i <= 3; i++) expect((await a.request("send_message", { conversationId: conv.id, content: `m${i}`, clientMsgId: `r-${i}` })).ok).toBe(true);
      await waitFor(() => messagesOf(b).length === 3, { what: "3 live messages" });
      const lastSeen = Math.max(...messagesOf(b).map((m) => m.seq));
      b.close();
      for (let i = 4; i <= 6; i++) expect((await a.request("send_message", { conversationId: conv.id, content: `m${i}`, clientMsgId: `r-${i}` })).ok).toBe(true);
      await waitFor(async () => (await history(gw(0), alice, conv.id)).messages.length === 6, { what: "6 stored" });

      const back = await connect(0, bob, { [conv.id]: lastSeen });
      const [resumed] = await waitFor(() => back.on("resumed").length > 0 && back.on("resumed"), { what: "resumed" });
      expect(resumed).toEqual({ replayed: 3, truncated: [] });
      expect((await a.request("send_message", { conversationId: conv.id, content: "m7", clientMsgId: "r-7" })).ok).toBe(true);
      await waitFor(() => messagesOf(back).length >= 4, { what: "replay and the live message" });
      await sleep(300);
      expect(messagesOf(back).map((m) => m.content)).toEqual(["m4", "m5", "m6", "m7"]);
      expect(messagesOf(back).map((m) => m.seq)).toEqual([4, 5, 6, 7]);
    });

    it("edits and deletes a message by its sender, reaching a device on the other gateway, and refuses someone else", async () => {
      const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(1))]);
      const conv = await createConversation(gw(0), alice, [bob]);
      const [a, b] = await Promise.all([connect(0, alice), connect(1, bob)]);
      const sent = await a.request("send_message", { conversationId: conv.id, content: "tpyo", clientMsgId: "e-1" });
      const messageId = sent.ok ? String(sent.messageId) : "";
      await waitFor(() => messagesOf(b).length === 1, { what: "the message" });
      expect(await b.request("edit_message", { conversationId: conv.id, messageId, content: "mine now" })).toEqual({
        ok: false,
        error: { code: "NOT_THE_SENDER", message: "Only the sender may change a message" },
      });
      expect(await a.request("edit_message", { conversationId: conv.id, messageId, content: "typo" })).toEqual({ ok: true, messageId, changeId: expect.any(String) });
      expect(await a.request("delete_message", { conversationId: conv.id, messageId })).toEqual({ ok: true, messageId, changeId: expect.any(String) });
      const [edited] = await waitFor(() => b.on("message_edited").length === 1 && b.on("message_edited"), { what: "message_edited" });
      const [deleted] = await waitFor(() => b.on("message_deleted").length === 1 && b.on("message_deleted"), { what: "message_deleted" });
      expect(edited).toMatchObject({ conversationId: conv.id, messageId, content: "typo", seq: 2, messageSeq: 1, editedAt: expect.any(String) });
      expect(deleted).toMatchObject({ conversationId: conv.id, messageId, seq: 3, messageSeq: 1, deletedAt: expect.any(String) });
    });

    it("shows a device that was offline during an edit and a delete both of them after it resumes, with no gap and no duplicate", async () => {
      const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(0))]);
      const conv = await createConversation(gw(0), alice, [bob]);
      const a = await connect(0, alice);
      const b = await connect(1, bob);
      const ids: string[] = [];
      for (let i = 1; i <= 2; i++) {
        const ack = await a.request("send_message", { conversationId: conv.id, content: `m${i}`, clientMsgId: `o-${i}` });
        ids.push(ack.ok ? String(ack.messageId) : "");
      }
      await waitFor(() => messagesOf(b).length === 2, { what: "2 live messages" });
      b.close();
      expect((await a.request("edit_message", { conversationId: conv.id, messageId: ids[0], content: "m1, edited" })).ok).toBe(true);
      expect((await a.request("delete_message", { conversationId: conv.id, messageId: ids[1] })).ok).toBe(true);
      expect((await a.request("send_message", { conversationId: conv.id, content: "m3", clientMsgId: "o-3" })).ok).toBe(true);
      await waitFor(async () => (await history(gw(0), alice, conv.id)).messages.length === 3, { what: "3 stored" });

      const back = await connect(0, bob, { [conv.id]: 2 });
      const [resumed] = await waitFor(() => back.on("resumed").length > 0 && back.on("resumed"), { what: "resumed" });
      expect(resumed).toEqual({ replayed: 3, truncated: [] });
      expect((await a.request("edit_message", { conversationId: conv.id, messageId: ids[0], content: "m1, again" })).ok).toBe(true);
      await waitFor(() => back.on("message_edited").length === 2, { what: "the replayed and the live edit" });
      await sleep(300);
      expect(back.on("message_edited")).toEqual([
        expect.objectContaining({ messageId: ids[0], content: "m1, edited", seq: 3 }),
        expect.objectContaining({ messageId: ids[0], content: "m1, again", seq: 6 }),
      ]);
      expect(back.on("message_deleted")).toEqual([expect.objectContaining({ messageId: ids[1], seq: 4, messageSeq: 2 })]);
      expect(messagesOf(back).map((m) => [m.content, m.seq])).toEqual([["m3", 5]]);
    });

    it("reports a failed handshake resume in `resumed` with the same error shape", async () => {
      const [alice, bob, eve] = await Promise.all([registerUser(gw(0)), registerUser(gw(0)), registerUser(gw(1))]);
      const conv = await createConversation(gw(0), alice, [bob]);
      const e = await connect(1, eve, { [conv.id]: 0 });
      const [resumed] = await waitFor(() => e.on("resumed").length > 0 && e.on("resumed"), { what: "resumed" });
      expect(resumed).toEqual({ replayed: 0, truncated: [], error: { code: "NOT_A_MEMBER", message: "Not a member of this conversation" } });
      expect(messagesOf(e)).toHaveLength(0);
    });
  });
}
