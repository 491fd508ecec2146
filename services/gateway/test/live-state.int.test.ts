import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayDeliveryTopicName } from "@chat/shared/contracts";
import { call, registerUser, type TestUser } from "../../../test/helpers/api.ts";
import { entries, startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { createConversation, history, type ConversationView } from "../../../test/helpers/conversations.ts";
import { createClientTracker, expectOk, type ChatClient } from "../../../test/helpers/sockets.ts";
import { stackEnv, waitFor } from "../../../shared/src/testing/index.ts";

const PRESENCE_TTL_MS = 4000;
const SWEEP_MS = 1000;
const TYPING_TTL_MS = 1500;

const eventsOf = (c: ChatClient, name: string) => c.events.filter((e) => e.event === name).map((e) => e.payload as Record<string, unknown>);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("live state across 3 gateways", () => {
  let cluster: TestCluster;
  let gw: (i: number) => string;
  const clients = createClientTracker();
  const connect = (i: number, user: TestUser) => clients.connect(gw(i), user.accessToken);
  const isOnline = async (viewer: TestUser, user: TestUser, i = 0) =>
    (await call<{ online: boolean }>(gw(i), "GET", `/api/user/${user.id}/online`, undefined, { token: viewer.accessToken })).body.online;

  beforeAll(async () => {
    cluster = await startCluster({
      gateways: 3,
      env: {
        PRESENCE_HEARTBEAT_MS: "1000",
        PRESENCE_GATEWAY_TTL_MS: String(PRESENCE_TTL_MS),
        PRESENCE_SWEEP_MS: String(SWEEP_MS),
        TYPING_TTL_MS: String(TYPING_TTL_MS),
        TYPING_PER_SECOND: "4",
      },
    });
    gw = (i) => cluster.gateways[i % 3]!.url;
  });
  afterAll(async () => {
    clients.closeAll();
    await cluster?.stop();
  });

  it("counts devices across gateways: online at the first, offline after the last", async () => {
    const [alice, bob] = await Promise.all([registerUser(gw(0), "alice"), registerUser(gw(0), "bob")]);
    await createConversation(gw(0), alice, [bob]);
    const bobWatch = await connect(2, bob);

    const dev1 = await connect(0, alice);
    await waitFor(() => eventsOf(bobWatch, "user_online").some((p) => p.userId === alice.id), { what: "user_online" });
    expect(await isOnline(bob, alice, 1)).toBe(true);
    const dev2 = await connect(1, alice);
    dev1.close();
    await sleep(500);
    expect(await isOnline(bob, alice, 2)).toBe(true);
    expect(eventsOf(bobWatch, "user_offline").filter((p) => p.userId === alice.id)).toHaveLength(0);
    expect(eventsOf(bobWatch, "user_online").filter((p) => p.userId === alice.id)).toHaveLength(1);

    const closedAt = Date.now();
    dev2.close();
    await waitFor(() => eventsOf(bobWatch, "user_offline").some((p) => p.userId === alice.id), { what: "user_offline" });
    const convergeMs = Date.now() - closedAt;
    expect(await isOnline(bob, alice)).toBe(false);
    const online = await call<{ userIds: string[] }>(gw(1), "GET", "/api/user/online", undefined, { token: bob.accessToken });
    expect(online.body.userIds).not.toContain(alice.id);
    expect(online.body.userIds).toContain(bob.id);
    console.warn(`[measure] presence offline after clean disconnect: ${convergeMs} ms`);
  });

  it("leaves contacts with a user's latest state when they move between gateways, even when two changes arrive out of order", async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(gw(0), "mover"), registerUser(gw(0), "watcher"), registerUser(gw(0), "marker")]);
    await createConversation(gw(0), alice, [bob]);
    const bobWatch = await connect(2, bob);
    const changesOf = (user: TestUser) =>
      bobWatch.events.filter((e) => (e.event === "user_online" || e.event === "user_offline") && (e.payload as { userId?: string }).userId === user.id).map((e) => e.event);

    // Moves as they happen: the device on one gateway leaves as one on the other arrives, and
    // the two gateways announce their changes with the registry's versions.
    let device = await connect(0, alice);
    for (let move = 1; move <= 8; move++) {
      device.close();
      device = await connect(move % 2, alice);
    }
    await waitFor(async () => await isOnline(bob, alice), { what: "alice online in the registry" });
    await sleep(1500); // late announcements, if any, have arrived
    expect(changesOf(alice).at(-1)).toBe("user_online");

    // Two changes that crossed on their way: the newer (online) reaches Bob's gateway first, the
    // older (offline) after it, on the same partition (Bob's key). The older is dropped; a marker
    // behind both shows that everything before it was handed out.
    const prefix = cluster.env.KAFKA_TOPIC_PREFIX!;
    const topic = gatewayDeliveryTopicName(prefix, `${prefix.slice(0, -1)}-gw2`);
    const producer = new Kafka({ brokers: stackEnv.kafkaBrokers, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    try {
      const presence = (userId: string, online: boolean, version: number) => ({
        key: bob.id,
        value: JSON.stringify({ v: 1, type: "presence", recipientId: bob.id, userId, online, version }),
        headers: { type: "presence", v: "1" },
      });
      const base = Date.now() * 1000 + 60_000_000; // later than every version the registry gave so far
      await producer.send({ topic, acks: -1, messages: [presence(alice.id, true, base + 2), presence(alice.id, false, base + 1), presence(carol.id, true, base)] });
    } finally {
      await producer.disconnect();
    }
    await waitFor(() => changesOf(carol).length > 0, { what: "the marker" });
    expect(changesOf(alice).slice(-2)).toEqual(["user_online", "user_online"]);
    device.close();
  });

  it("takes a SIGKILLed gateway's users offline within the bound", async () => {
    const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(0))]);
    await createConversation(gw(0), alice, [bob]);
    const doomed = await cluster.spawn("gateway-doomed", entries.gateway, { GATEWAY_ID: `${cluster.env.MONGO_DB}-doomed` });
    const watcher = await connect(0, bob);
    await clients.connect(doomed.url, alice.accessToken);
    await waitFor(() => eventsOf(watcher, "user_online").some((p) => p.userId === alice.id), { what: "user_online" });

    const killedAt = Date.now();
    doomed.child.kill("SIGKILL");
    await waitFor(() => eventsOf(watcher, "user_offline").some((p) => p.userId === alice.id), {
      timeoutMs: PRESENCE_TTL_MS + SWEEP_MS + 5000,
      what: "user_offline after SIGKILL",
    });
    const convergeMs = Date.now() - killedAt;
    expect(convergeMs).toBeLessThanOrEqual(PRESENCE_TTL_MS + SWEEP_MS + 2000);
    expect(await isOnline(bob, alice)).toBe(false);
    console.warn(`[measure] presence offline after gateway SIGKILL: ${convergeMs} ms (ttl ${PRESENCE_TTL_MS}, sweep ${SWEEP_MS})`);
  });

  describe("typing", () => {
    let alice: TestUser, bob: TestUser, carol: TestUser, outsider: TestUser;
    let conv: ConversationView;
    beforeAll(async () => {
      [alice, bob, carol, outsider] = await Promise.all([registerUser(gw(0)), registerUser(gw(1)), registerUser(gw(2)), registerUser(gw(2))]);
      conv = await createConversation(gw(0), alice, [bob, carol], "typing room");
    });

    it("reaches members who joined the room on other gateways, and stops", async () => {
      const a = await connect(0, alice);
      const b = await connect(1, bob);
      const c = await connect(2, carol); // member, but never joins the room
      expectOk(await b.request("join_room", { conversationId: conv.id }));
      expectOk(await a.request("typing", { conversationId: conv.id, isTyping: true }));
      await waitFor(() => eventsOf(b, "typing").some((p) => p.userId === alice.id && p.isTyping === true), { what: "typing true" });
      expectOk(await a.request("typing", { conversationId: conv.id, isTyping: false }));
      await waitFor(() => eventsOf(b, "typing").some((p) => p.userId === alice.id && p.isTyping === false), { what: "typing false" });
      expect(eventsOf(c, "typing")).toHaveLength(0);
      expect(eventsOf(a, "typing")).toHaveLength(0);
      expectOk(await b.request("leave_room", { conversationId: conv.id }));
      await sleep(600); // let the token bucket refill
      expectOk(await a.request("typing", { conversationId: conv.id, isTyping: true }));
      await sleep(500);
      expect(eventsOf(b, "typing").filter((p) => p.isTyping === true)).toHaveLength(1);
      expectOk(await a.request("typing", { conversationId: conv.id, isTyping: false }));
    });

    it("expires a typing whose stop never comes", async () => {
      await sleep(1000);
      const a = await connect(1, alice);
      const b = await connect(2, bob);
      expectOk(await b.request("join_room", { conversationId: conv.id }));
      const started = Date.now();
      expectOk(await a.request("typing", { conversationId: conv.id, isTyping: true }));
      await waitFor(() => eventsOf(b, "typing").some((p) => p.isTyping === false), { timeoutMs: TYPING_TTL_MS + 3000, what: "typing expiry" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(TYPING_TTL_MS - 100);
    });

    it("is rate-limited per user", async () => {
      await sleep(1000);
      const a = await connect(0, alice);
      const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => a.request("typing", { conversationId: conv.id, isTyping: i % 2 === 0 })));
      const limited = acks.filter((x) => !x.ok && x.error.code === "RATE_LIMITED").length;
      expect(limited).toBeGreaterThanOrEqual(10);
      expect(acks.filter((x) => x.ok).length).toBeGreaterThan(0);
    });

    it("refuses typing and receipts from non-members, who also hear nothing", async () => {
      const o = await connect(0, outsider);
      const a = await connect(1, alice);
      const typing = await o.request("typing", { conversationId: conv.id, isTyping: true });
      expect(!typing.ok && typing.error.code).toBe("NOT_A_MEMBER");
      const read = await o.request("mark_read", { conversationId: conv.id, seq: 1 });
      expect(!read.ok && read.error.code).toBe("NOT_A_MEMBER");
      const join = await o.request("join_room", { conversationId: conv.id });
      expect(!join.ok && join.error.code).toBe("NOT_A_MEMBER");
      await sleep(1000);
      expectOk(await a.request("send_message", { conversationId: conv.id, content: "members only", clientMsgId: "mo-1" }));
      expectOk(await a.request("typing", { conversationId: conv.id, isTyping: true }));
      await sleep(800);
      expect(o.messages).toHaveLength(0);
      expect(o.events.filter((e) => ["typing", "message_read", "user_online", "user_offline"].includes(e.event))).toHaveLength(0);
    });
  });

  it("moves read receipts forward only, lowers unreadCount and tells the other side and the reader's other devices", async () => {
    const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(1))]);
    const conv = await createConversation(gw(0), alice, [bob]);
    const a = await connect(0, alice);
    const b1 = await connect(1, bob);
    const b2 = await connect(2, bob);
    for (let i = 1; i <= 3; i++) expectOk(await a.request("send_message", { conversationId: conv.id, content: `r${i}`, clientMsgId: `read-${i}` }));
    await b1.waitForMessages(3);
    const unread = async () => {
      const list = await call<{ conversations: Array<{ id: string; unreadCount: number; lastReadSeq: number }> }>(gw(2), "GET", "/api/conversations", undefined, { token: bob.accessToken });
      return list.body.conversations.find((c) => c.id === conv.id)!;
    };
    expect((await unread()).unreadCount).toBe(3);

    expectOk(await b1.request("mark_read", { conversationId: conv.id, seq: 2 }));
    await waitFor(() => eventsOf(a, "message_read").some((p) => p.seq === 2 && p.userId === bob.id), { what: "receipt at alice" });
    await waitFor(() => eventsOf(b2, "message_read").some((p) => p.seq === 2), { what: "receipt at bob's other device" });
    expect(eventsOf(a, "message_read")[0]).toEqual({ conversationId: conv.id, userId: bob.id, seq: 2 });
    await waitFor(async () => (await unread()).unreadCount === 1, { what: "unread 1" });

    expectOk(await b2.request("mark_read", { conversationId: conv.id, seq: 1 }));
    expectOk(await b2.request("mark_read", { conversationId: conv.id, seq: 99 }));
    await waitFor(async () => (await unread()).lastReadSeq === 3, { what: "read up to the last message" });
    expectOk(await b1.request("mark_read", { conversationId: conv.id, seq: 1 }));
    await sleep(1000);
    const state = await unread();
    expect(state.lastReadSeq).toBe(3);
    expect(state.unreadCount).toBe(0);
    expect(eventsOf(a, "message_read").map((p) => p.seq)).toEqual([2, 3]);
  });

  it("catches a reconnecting client up on 50 missed messages, on another gateway, in order, each once", async () => {
    const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(0))]);
    const conv = await createConversation(gw(0), alice, [bob]);
    const a = await connect(0, alice);
    const b = await connect(1, bob);
    expectOk(await a.request("send_message", { conversationId: conv.id, content: "before", clientMsgId: "cu-0" }));
    await b.waitForMessages(1);
    const lastSeen = b.messages[0]!.seq;
    b.close();
    for (let i = 1; i <= 50; i++) expectOk(await a.request("send_message", { conversationId: conv.id, content: `missed ${i}`, clientMsgId: `cu-${i}` }));

    // Resume in the handshake: the replay comes before any live message.
    const back = await clients.connect(gw(2), bob.accessToken, { resume: { [conv.id]: lastSeen } });
    await waitFor(() => eventsOf(back, "resumed").length === 1, { what: "resumed" });
    // Acked means in Kafka; the last few may still be on their way to MongoDB and arrive live.
    expect(eventsOf(back, "resumed")[0]).toMatchObject({ truncated: [] });
    await back.waitForMessages(50);
    await sleep(300);
    expect(back.messages.map((m) => m.content)).toEqual(Array.from({ length: 50 }, (_, i) => `missed ${i + 1}`));
    expect(back.messages.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => lastSeen + i + 1));
  });

  it("misses nothing sent while the client reconnects (the registration-before-catch-up window)", async () => {
    const [alice, bob] = await Promise.all([registerUser(gw(0)), registerUser(gw(0))]);
    const conv = await createConversation(gw(0), alice, [bob]);
    const a = await connect(0, alice);
    const b = await connect(1, bob);
    let sending = true;
    let sent = 0;
    const stream = (async () => {
      while (sending) {
        sent++;
        expectOk(await a.request("send_message", { conversationId: conv.id, content: `w${sent}`, clientMsgId: `win-${sent}` }));
        await sleep(3);
      }
    })();
    await b.waitForMessages(20);
    b.close();
    const lastSeen = Math.max(...b.messages.map((m) => m.seq));
    await sleep(200);
    // Registered (in the handshake) before its replay runs, with live messages held meanwhile.
    const back = await clients.connect(gw(2), bob.accessToken, { resume: { [conv.id]: lastSeen } });
    await waitFor(() => eventsOf(back, "resumed").length === 1, { what: "resumed" });
    await sleep(300);
    sending = false;
    await stream;

    await waitFor(async () => (await history(gw(0), alice, conv.id, "limit=200")).messages.length === sent, { what: "all stored" });
    const stored = await history(gw(0), alice, conv.id, "limit=200");
    const shown = new Map<string, number>();
    for (const m of [...b.messages, ...back.messages]) shown.set(m.messageId, m.seq);
    await waitFor(() => {
      for (const m of back.messages) shown.set(m.messageId, m.seq);
      return shown.size === stored.messages.length;
    }, { what: `all ${stored.messages.length} shown` });
    expect([...shown.values()].sort((x, y) => x - y)).toEqual(stored.messages.map((m) => m.seq));
    const afterReconnect = back.messages.map((m) => m.seq);
    expect(afterReconnect).toEqual([...afterReconnect].sort((x, y) => x - y));
    expect(new Set(afterReconnect).size).toBe(afterReconnect.length);
    expect(afterReconnect[0]).toBe(lastSeen + 1);
  });

  it("replays through the resume event too, and refuses a resume of someone else's conversation", async () => {
    const [alice, bob, eve] = await Promise.all([registerUser(gw(0)), registerUser(gw(0)), registerUser(gw(0))]);
    const conv = await createConversation(gw(0), alice, [bob]);
    const a = await connect(0, alice);
    for (let i = 1; i <= 5; i++) expectOk(await a.request("send_message", { conversationId: conv.id, content: `e${i}`, clientMsgId: `ev-${i}` }));
    await waitFor(async () => (await history(gw(0), alice, conv.id)).messages.length === 5, { what: "stored" });
    const b = await connect(1, bob);
    const resumed = expectOk(await b.request<{ replayed: number }>("resume", { conversations: { [conv.id]: 2 } }));
    expect(resumed.replayed).toBe(3);
    expect(b.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
    const e = await connect(2, eve);
    const refused = await e.request("resume", { conversations: { [conv.id]: 0 } });
    expect(!refused.ok && refused.error.code).toBe("NOT_A_MEMBER");
    expect(e.messages).toHaveLength(0);
  });

  it("pushes server-side events to a user, a conversation or everyone, on every gateway", async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(gw(0)), registerUser(gw(1)), registerUser(gw(2))]);
    const conv = await createConversation(gw(0), alice, [bob]);
    const a = await connect(0, alice);
    const b = await connect(1, bob);
    const c = await connect(2, carol);
    const push = (body: unknown, token = cluster.env.INTERNAL_API_TOKEN!) =>
      fetch(`${cluster.messages[0]!.url}/internal/push`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-internal-token": token },
        body: JSON.stringify(body),
      });
    expect((await push({ target: { userId: bob.id }, event: "note", data: { n: 1 } }, "wrong-token-wrong-token")).status).toBe(401);
    expect((await push({ target: { userId: bob.id }, event: "bad event name!", data: 1 })).status).toBe(400);
    expect((await push({ target: { userId: bob.id }, event: "note", data: { n: 1 } })).status).toBe(202);
    expect((await push({ target: { conversationId: conv.id }, event: "conv", data: { n: 2 } })).status).toBe(202);
    expect((await push({ target: { all: true }, event: "everyone", data: { n: 3 } })).status).toBe(202);
    await waitFor(() => eventsOf(c, "push").some((p) => p.event === "everyone"), { what: "broadcast at carol" });
    await waitFor(() => eventsOf(b, "push").length === 3, { what: "3 pushes at bob" });
    await waitFor(() => eventsOf(a, "push").length === 2, { what: "2 pushes at alice" });
    // Three targets, three keys: Kafka orders each key's events, not the three among themselves
    // (one fetch may bring them from different partitions).
    expect(eventsOf(b, "push").map((p) => p.event).toSorted()).toEqual(["conv", "everyone", "note"]);
    expect(eventsOf(c, "push").map((p) => p.event)).toEqual(["everyone"]);
  });
});
