import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayDeliveryTopicName } from "@chat/shared/contracts";
import { registerUser, type TestUser } from "../../../test/helpers/api.ts";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { createConversation, history } from "../../../test/helpers/conversations.ts";
import { createClientTracker, expectOk } from "../../../test/helpers/sockets.ts";
import { uniqueName, waitFor } from "../../../shared/src/testing/index.ts";

/** The sum of a gateway's samples whose line starts with `series` (a metric name and, optionally, the start of its labels). */
async function metricTotal(gatewayUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(series)) total += Number(line.split(" ").pop());
  }
  return total;
}

const deliveryEventsConsumed = (gatewayUrl: string) => metricTotal(gatewayUrl, "gateway_delivery_events_consumed_total{");

// The same suite at 1 and at 3 gateway replicas: multi-node behaviour must not differ.
describe.each([1, 3])("message delivery with %i gateway(s)", (gatewayCount) => {
  let cluster: TestCluster;
  let gw: (i: number) => string;
  const clients = createClientTracker();
  const connect = (i: number, user: TestUser) => clients.connect(gw(i), user.accessToken);

  beforeAll(async () => {
    cluster = await startCluster({ gateways: gatewayCount, messageReplicas: 2, env: { SOCKET_EVENTS_PER_SECOND: "200" } });
    gw = (i) => cluster.gateways[i % gatewayCount]!.url;
  });
  afterAll(async () => {
    clients.closeAll();
    await cluster?.stop();
  });

  it("delivers Alice's message once to Bob on another gateway and to Alice's second device, matching history", async () => {
    const [alice, bob] = await Promise.all([registerUser(gw(0), "alice"), registerUser(gw(1), "bob")]);
    const conv = await createConversation(gw(0), alice, [bob]);
    const again = await createConversation(gw(1), bob, [alice]);
    expect(again.id).toBe(conv.id);
    const aliceA = await connect(0, alice);
    const bobB = await connect(1, bob);
    const aliceC = await connect(2, alice);

    const ack = expectOk(await aliceA.request<{ messageId: string }>("send_message", { conversationId: conv.id, content: "hi Bob", clientMsgId: "m-1" }));
    const [got] = await bobB.waitForMessages(1);
    await aliceC.waitForMessages(1);
    await aliceA.waitForMessages(1);
    const stored = await history(gw(1), bob, conv.id);
    expect(stored.messages).toHaveLength(1);
    expect(got).toMatchObject({ messageId: ack.messageId, seq: 1, content: "hi Bob", senderId: alice.id, conversationId: conv.id });
    expect(stored.messages[0]).toMatchObject({ messageId: ack.messageId, seq: got!.seq });
    expect(aliceC.messages[0]!.messageId).toBe(ack.messageId);
    // The sender's gateway produced the send and fetched its deliveries, and counted both.
    expect(await metricTotal(gw(0), 'kafka_client_requests_total{role="producer",api="Produce",')).toBeGreaterThan(0);
    expect(await metricTotal(gw(0), 'kafka_client_requests_total{role="consumer",api="Fetch",')).toBeGreaterThan(0);

    // Nothing arrives twice.
    await new Promise((r) => setTimeout(r, 500));
    expect(bobB.messages).toHaveLength(1);
    expect(aliceC.messages).toHaveLength(1);
  });

  it("stores 200 quick messages in send order with strictly increasing seq; conversations proceed independently", async () => {
    const [a, b, c] = await Promise.all([registerUser(gw(0)), registerUser(gw(1)), registerUser(gw(2))]);
    const conv1 = await createConversation(gw(0), a, [b]);
    const conv2 = await createConversation(gw(0), a, [c]);
    const sender = await connect(0, a);
    const receiver = await connect(1, b);
    const acks = await Promise.all(
      Array.from({ length: 200 }, (_, i) => sender.request<{ messageId: string }>("send_message", { conversationId: conv1.id, content: `n${i}`, clientMsgId: `seq-${i}` })),
    );
    acks.forEach(expectOk);
    const other = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sender.request("send_message", { conversationId: conv2.id, content: `o${i}`, clientMsgId: `other-${i}` })),
    );
    other.forEach(expectOk);

    await receiver.waitForMessages(200, 30_000);
    const stored = await history(gw(1), b, conv1.id, "limit=200");
    expect(stored.messages.map((m) => m.content)).toEqual(Array.from({ length: 200 }, (_, i) => `n${i}`));
    expect(stored.messages.map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(receiver.messages.map((m) => m.seq)).toEqual(stored.messages.map((m) => m.seq));
    await waitFor(async () => (await history(gw(2), c, conv2.id)).messages.length === 20, { what: "20 stored in the other conversation" });
    const stored2 = await history(gw(2), c, conv2.id);
    expect(stored2.messages.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("stores a resent clientMsgId once, acked with the same messageId, even through two gateways", async () => {
    const [a, b] = await Promise.all([registerUser(gw(0)), registerUser(gw(1))]);
    const conv = await createConversation(gw(0), a, [b]);
    const onA = await connect(0, a);
    const onB = await connect(1, a);
    const receiver = await connect(2, b);
    const first = expectOk(await onA.request<{ messageId: string }>("send_message", { conversationId: conv.id, content: "once", clientMsgId: "dup-1" }));
    const second = expectOk(await onB.request<{ messageId: string }>("send_message", { conversationId: conv.id, content: "once", clientMsgId: "dup-1" }));
    const third = expectOk(await onA.request<{ messageId: string }>("send_message", { conversationId: conv.id, content: "once", clientMsgId: "dup-1" }));
    expect(second.messageId).toBe(first.messageId);
    expect(third.messageId).toBe(first.messageId);
    expectOk(await onA.request("send_message", { conversationId: conv.id, content: "after", clientMsgId: "dup-2" }));
    await receiver.waitForMessages(2);
    const stored = await history(gw(0), a, conv.id);
    expect(stored.messages.map((m) => m.clientMsgId)).toEqual(["dup-1", "dup-2"]);
    expect(stored.messages[0]!.messageId).toBe(first.messageId);
    expect(receiver.messages.filter((m) => m.clientMsgId === "dup-1")).toHaveLength(1);
  });

  it("gives every member of a group of 5 on 3 gateways each message once", async () => {
    const members = await Promise.all(Array.from({ length: 5 }, (_, i) => registerUser(gw(i), `g${i}`)));
    const conv = await createConversation(gw(0), members[0]!, members.slice(1), "five of us");
    expect(conv.type).toBe("group");
    const sockets = await Promise.all(members.map((m, i) => connect(i, m)));
    for (let i = 0; i < 5; i++) {
      expectOk(await sockets[i]!.request("send_message", { conversationId: conv.id, content: `from ${i}`, clientMsgId: `g-${i}` }));
    }
    for (const s of sockets) {
      await s.waitForMessages(5);
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const s of sockets) {
      expect(s.messages.map((m) => m.seq).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
    }
  });

  it.runIf(gatewayCount === 3)("makes a gateway read (next to) no delivery events of users connected elsewhere", async () => {
    const [a, b] = await Promise.all([registerUser(gw(0)), registerUser(gw(0))]);
    const conv = await createConversation(gw(0), a, [b]);
    const sa = await connect(0, a);
    const sb = await connect(0, b);
    const before = await Promise.all([0, 1, 2].map((i) => deliveryEventsConsumed(gw(i))));
    await Promise.all(Array.from({ length: 50 }, (_, i) => sa.request("send_message", { conversationId: conv.id, content: `x${i}`, clientMsgId: `iso-${i}` })));
    await sb.waitForMessages(50);
    await sa.waitForMessages(50);
    await new Promise((r) => setTimeout(r, 500));
    const after = await Promise.all([0, 1, 2].map((i) => deliveryEventsConsumed(gw(i))));
    const delta = after.map((v, i) => v - before[i]!);
    expect(delta[0]).toBeGreaterThanOrEqual(100);
    // Other tests' clients may still be connected to gateways 1 and 2, but nothing of this chat goes there.
    expect(delta[1]).toBeLessThanOrEqual(2);
    expect(delta[2]).toBeLessThanOrEqual(2);
  });

  it("answers first sends to many conversations at once, each with its own ack (membership looked up together)", async () => {
    const [a, b, c, outsider] = await Promise.all([registerUser(gw(0)), registerUser(gw(0)), registerUser(gw(0)), registerUser(gw(0))]);
    const mine = await Promise.all(Array.from({ length: 30 }, (_, i) => createConversation(gw(0), a, [b, c], `group ${i}`)));
    const theirs = await createConversation(gw(0), b, [c, outsider], "not a's");
    const sa = await connect(0, a);
    const targets = [...mine.map((conv) => conv.id), theirs.id, "no-such-conversation"];
    // Sent in one go: the gateway has none of these conversations cached yet.
    const acks = await Promise.all(targets.map((conversationId, i) => sa.request<{ messageId: string }>("send_message", { conversationId, content: `first ${i}`, clientMsgId: `burst-${i}` })));
    const code = (ack: { ok: boolean; error?: { code: string } }) => (ack.ok ? "OK" : ack.error!.code);
    expect(acks.map(code)).toEqual([...mine.map(() => "OK"), "NOT_A_MEMBER", "CONVERSATION_NOT_FOUND"]);
    for (const [i, conv] of mine.entries()) {
      const stored = await waitFor(
        async () => {
          const page = await history(gw(0), b, conv.id);
          return page.messages.length > 0 ? page : undefined;
        },
        { timeoutMs: 15_000, what: `the message in ${conv.id}` },
      );
      expect(stored.messages).toHaveLength(1);
      expect(stored.messages[0]).toMatchObject({ content: `first ${i}`, clientMsgId: `burst-${i}` });
    }
  });

  it("refuses bad events with an error ack or status and stores nothing", async () => {
    const [a, b, outsider] = await Promise.all([registerUser(gw(0)), registerUser(gw(0)), registerUser(gw(1))]);
    const conv = await createConversation(gw(0), a, [b]);
    const sa = await connect(0, a);
    const so = await connect(1, outsider);
    const code = (ack: { ok: boolean; error?: { code: string } }) => (ack.ok ? "OK" : ack.error!.code);

    expect(code(await so.request("join_room", { conversationId: conv.id }))).toBe("NOT_A_MEMBER");
    expect(code(await so.request("send_message", { conversationId: conv.id, content: "let me in", clientMsgId: "x1" }))).toBe("NOT_A_MEMBER");
    expect(code(await sa.request("send_message", { conversationId: "no-such-conversation", content: "hello", clientMsgId: "x2" }))).toBe("CONVERSATION_NOT_FOUND");
    expect(code(await sa.request("send_message", { conversationId: conv.id, content: "", clientMsgId: "x3" }))).toBe("VALIDATION_FAILED");
    expect(code(await sa.request("send_message", { conversationId: conv.id, content: "   ", clientMsgId: "x4" }))).toBe("VALIDATION_FAILED");
    expect(code(await sa.request("send_message", { conversationId: conv.id, content: "y".repeat(4001), clientMsgId: "x5" }))).toBe("VALIDATION_FAILED");
    expect(code(await sa.request("send_message", { conversationId: conv.id, content: 42, clientMsgId: "x6" }))).toBe("VALIDATION_FAILED");
    expect(code(await sa.request("send_message", { conversationId: conv.id, content: "no id" }))).toBe("VALIDATION_FAILED");
    expect(code(await sa.request("send_message", "not an object"))).toBe("VALIDATION_FAILED");
    expect(code(await sa.request("definitely_not_an_event", { x: 1 }))).toBe("UNKNOWN_EVENT");
    expect(sa.socket.connected).toBe(true);

    const rest = await fetch(`${gw(1)}/api/conversations/${conv.id}/messages`, { headers: { authorization: `Bearer ${outsider.accessToken}` } });
    expect(rest.status).toBe(403);
    const restSend = await fetch(`${gw(1)}/api/conversations/${conv.id}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${outsider.accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ content: "hi", clientMsgId: "r1" }),
    });
    expect(restSend.status).toBe(403);
    const unknown = await fetch(`${gw(1)}/api/conversations/nope/messages`, { headers: { authorization: `Bearer ${a.accessToken}` } });
    expect(unknown.status).toBe(404);

    // A valid message afterwards is the only one stored.
    expectOk(await sa.request("send_message", { conversationId: conv.id, content: "valid", clientMsgId: "ok-1" }));
    await waitFor(async () => (await history(gw(0), a, conv.id)).messages.length === 1, { what: "the valid message" });
    const stored = await history(gw(0), a, conv.id);
    expect(stored.messages.map((m) => m.content)).toEqual(["valid"]);
  });

  it("refuses a flood on one connection without hurting others", async () => {
    const [a, b] = await Promise.all([registerUser(gw(0)), registerUser(gw(0))]);
    const conv = await createConversation(gw(0), a, [b]);
    const flooder = await connect(0, a);
    const calm = await connect(0, b);
    const acks = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => flooder.request("send_message", { conversationId: conv.id, content: `f${i}`, clientMsgId: `flood-${i}` })),
    );
    const limited = acks.filter((x) => !x.ok && x.error.code === "RATE_LIMITED").length;
    const accepted = acks.filter((x) => x.ok).length;
    expect(limited).toBeGreaterThan(0);
    expect(accepted + limited).toBe(1000);
    expectOk(await calm.request("send_message", { conversationId: conv.id, content: "still fine", clientMsgId: "calm-1" }));
    await waitFor(async () => (await history(gw(0), b, conv.id, "limit=200&afterSeq=0")).messages.length > 0, { what: "stored" });
    await waitFor(async () => {
      const all = await history(gw(0), b, conv.id, `limit=200&afterSeq=${Math.max(0, accepted - 5)}`);
      return all.messages.some((m) => m.clientMsgId === "calm-1");
    }, { what: "calm message stored" });
  });

  it("accepts REST sends through the same pipeline, and lists conversations with unread counts", async () => {
    const [a, b] = await Promise.all([registerUser(gw(0)), registerUser(gw(1))]);
    const conv = await createConversation(gw(0), a, [b]);
    const sb = await connect(1, b);
    const res = await fetch(`${gw(0)}/api/conversations/${conv.id}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ content: "via REST", clientMsgId: uniqueName("rest") }),
    });
    expect(res.status).toBe(202);
    const { messageId } = (await res.json()) as { messageId: string };
    const [got] = await sb.waitForMessages(1);
    expect(got!.messageId).toBe(messageId);
    const list = await fetch(`${gw(1)}/api/conversations`, { headers: { authorization: `Bearer ${b.accessToken}` } });
    const body = (await list.json()) as { conversations: Array<{ id: string; unreadCount: number; lastMessage: { content: string } }> };
    const mine = body.conversations.find((c) => c.id === conv.id)!;
    expect(mine.unreadCount).toBe(1);
    expect(mine.lastMessage.content).toBe("via REST");
  });

  it("commits how far a gateway has delivered within seconds, also once traffic stops", async () => {
    const [a, b] = await Promise.all([registerUser(gw(0)), registerUser(gw(0))]);
    const conv = await createConversation(gw(0), a, [b]);
    const [sa, sb] = [await connect(0, a), await connect(0, b)];
    for (let i = 0; i < 20; i++) expectOk(await sa.request("send_message", { conversationId: conv.id, content: `c${i}`, clientMsgId: uniqueName("commit") }));
    await sb.waitForMessages(20);
    // A restarted gateway starts from its committed offsets: everything handed out must get there.
    const prefix = cluster.env.KAFKA_TOPIC_PREFIX!;
    const gatewayId = `${prefix.slice(0, -1)}-gw0`;
    const topic = gatewayDeliveryTopicName(prefix, gatewayId);
    const admin = new Kafka({ brokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.offset]));
      await waitFor(
        async () => {
          const [committed] = await admin.fetchOffsets({ groupId: `${prefix}gateway.${gatewayId}`, topics: [topic] });
          return committed!.partitions.every((p) => p.offset === ends.get(p.partition) || ends.get(p.partition) === "0");
        },
        { timeoutMs: 10_000, what: "the gateway's committed offsets at its topic's end" },
      );
    } finally {
      await admin.disconnect();
    }
  });

  // Last in the file: it stops one message replica for good.
  it("goes on past a message replica that is gone: REST, first sends and deliveries through the other", async () => {
    const [a, b] = await Promise.all([registerUser(gw(0)), registerUser(gw(0))]);
    const before = await createConversation(gw(0), a, [b]);
    const gone = cluster.messages[0]!;
    gone.child.kill("SIGTERM");
    await gone.exited;
    // Every gateway lists both replicas (MESSAGE_URL) and shares its requests between them: with one
    // replica listed, or without passing over a refusing one, these would fail.
    const pages = await Promise.all(Array.from({ length: 6 }, () => history(gw(0), a, before.id)));
    expect(pages.map((p) => p.messages.length)).toEqual([0, 0, 0, 0, 0, 0]);
    const conv = await createConversation(gw(0), a, [b]);
    const [sa, sb] = [await connect(0, a), await connect(0, b)];
    // Not cached by the gateway yet: its membership is looked up on the replica that is left.
    const ack = expectOk(await sa.request<{ messageId: string }>("send_message", { conversationId: conv.id, content: "still here", clientMsgId: uniqueName("one-left") }));
    const [got] = await sb.waitForMessages(1, 30_000);
    expect(got).toMatchObject({ messageId: ack.messageId, content: "still here" });
    expect((await history(gw(0), b, conv.id)).messages.map((m) => m.messageId)).toEqual([ack.messageId]);
  });
});
