import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerUser } from "../../../test/helpers/api.ts";
import { entries, startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { createConversation, history } from "../../../test/helpers/conversations.ts";
import { connectClient, type ChatClient } from "../../../test/helpers/sockets.ts";
import { waitFor } from "../../../shared/src/testing/index.ts";

async function allStored(gatewayUrl: string, user: Parameters<typeof history>[1], conversationId: string) {
  const all: Array<{ messageId: string; seq: number; clientMsgId: string }> = [];
  let after = 0;
  for (;;) {
    const page = await history(gatewayUrl, user, conversationId, `afterSeq=${after}&limit=200`);
    all.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return all;
    after = page.messages[page.messages.length - 1]!.seq;
  }
}

describe.each(["SIGKILL", "SIGTERM"] as const)("the message service gets %s in the middle of a stream", (signal) => {
  let cluster: TestCluster;
  const clients: ChatClient[] = [];
  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2, messageReplicas: 1, env: { SOCKET_EVENTS_PER_SECOND: "1000", MESSAGE_SESSION_TIMEOUT_MS: "6000" } });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster?.stop();
  });

  it("stores every acknowledged message exactly once and delivers it after a restart", async () => {
    const gwA = cluster.gateways[0]!.url;
    const gwB = cluster.gateways[1]!.url;
    const [alice, bob] = await Promise.all([registerUser(gwA), registerUser(gwB)]);
    const conv = await createConversation(gwA, alice, [bob]);
    const sender = await connectClient(gwA, alice.accessToken);
    const receiver = await connectClient(gwB, bob.accessToken);
    clients.push(sender, receiver);

    const victim = cluster.messages[0]!;
    const acked = new Set<string>();
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < 500; i++) {
      sends.push(
        sender.request<{ messageId: string }>("send_message", { conversationId: conv.id, content: `m${i}`, clientMsgId: `crash-${i}` }).then((ack) => {
          if (ack.ok) acked.add(`crash-${i}`);
        }),
      );
      if (i === 150) {
        await waitFor(() => receiver.messages.length > 20, { what: "stream under way" });
        victim.child.kill(signal);
      }
      if (i % 25 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(sends);
    const exit = await victim.exited;
    if (signal === "SIGTERM") expect(exit).toBe(0);
    // Kafka keeps taking messages while the message service is down.
    expect(acked.size).toBe(500);

    await cluster.spawn("message-restarted", entries.message, {}, victim.port);
    await waitFor(async () => (await allStored(gwB, bob, conv.id)).length >= 500, { timeoutMs: 60_000, what: "all 500 stored" });
    const stored = await allStored(gwB, bob, conv.id);
    expect(stored).toHaveLength(500);
    expect(new Set(stored.map((m) => m.clientMsgId)).size).toBe(500);
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    // Order of one device's burst survives the crash.
    expect(stored.map((m) => m.clientMsgId)).toEqual(Array.from({ length: 500 }, (_, i) => `crash-${i}`));

    await waitFor(() => new Set(receiver.messages.map((m) => m.messageId)).size === 500, { timeoutMs: 60_000, what: "all 500 delivered" });
    const shown = new Map(receiver.messages.map((m) => [m.messageId, m.seq]));
    for (const m of stored) expect(shown.get(m.messageId)).toBe(m.seq);
  });
});
