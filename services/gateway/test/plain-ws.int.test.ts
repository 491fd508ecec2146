import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerUser } from "../../../test/helpers/api.ts";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { createConversation } from "../../../test/helpers/conversations.ts";
import { connectClient, expectOk, type ChatClient } from "../../../test/helpers/sockets.ts";
import { waitFor } from "../../../shared/src/testing/index.ts";

interface Frame {
  type: string;
  data?: Record<string, unknown>;
  ack?: string | number;
}

/** A raw /ws client recording frames and its close code. */
function wsClient(url: string) {
  const ws = new WebSocket(url);
  const frames: Frame[] = [];
  let closed: { code: number; reason: string } | undefined;
  ws.on("message", (raw) => frames.push(JSON.parse(raw.toString()) as Frame));
  ws.on("close", (code, reason) => (closed = { code, reason: reason.toString() }));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let nextAck = 1;
  return {
    ws,
    frames,
    closed: () => closed,
    opened,
    async request(type: string, data: unknown): Promise<Record<string, unknown>> {
      const ack = nextAck++;
      ws.send(JSON.stringify({ type, data, ack }));
      const frame = await waitFor(() => frames.find((f) => f.type === "ack" && f.ack === ack), { what: `ack ${ack} for ${type}` });
      return frame.data!;
    },
  };
}

describe("plain WebSocket at /ws", () => {
  let cluster: TestCluster;
  const wsUrl = (i: number, query = "") => `${cluster.gateways[i]!.url.replace("http", "ws")}/ws${query}`;
  const sockets: ChatClient[] = [];
  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2, env: { SOCKET_MAX_PAYLOAD_BYTES: "8192" } });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await cluster?.stop();
  });

  it("interoperates: a /ws client and a Socket.IO client chat across gateways", async () => {
    const [alice, bob] = await Promise.all([registerUser(cluster.gateways[0]!.url), registerUser(cluster.gateways[1]!.url)]);
    const conv = await createConversation(cluster.gateways[0]!.url, alice, [bob]);
    const a = wsClient(wsUrl(0, `?token=${alice.accessToken}`));
    await a.opened;
    await waitFor(() => a.frames.some((f) => f.type === "ready"), { what: "ready" });
    const b = await connectClient(cluster.gateways[1]!.url, bob.accessToken);
    sockets.push(b);

    const sent = await a.request("send_message", { conversationId: conv.id, content: "from plain ws", clientMsgId: "ws-1" });
    expect(sent).toMatchObject({ ok: true, messageId: expect.any(String) });
    const [got] = await b.waitForMessages(1);
    expect(got).toMatchObject({ content: "from plain ws", messageId: sent.messageId });

    expectOk(await b.request("send_message", { conversationId: conv.id, content: "from socket.io", clientMsgId: "sio-1" }));
    await waitFor(
      () => a.frames.some((f) => f.type === "message_received" && (f.data?.message as { content?: string })?.content === "from socket.io"),
      { what: "message at the /ws client" },
    );
    expect(await a.request("join_room", { conversationId: conv.id })).toEqual({ ok: true });
    a.ws.close();
  });

  it("authenticates with a first frame, refuses another first frame, closes refused sockets with 4401", async () => {
    const user = await registerUser(cluster.gateways[0]!.url);
    const viaFrame = wsClient(wsUrl(1));
    await viaFrame.opened;
    expect(await viaFrame.request("auth", { token: user.accessToken })).toEqual({ ok: true });
    expect(viaFrame.frames.find((f) => f.type === "ready")).toMatchObject({ data: { userId: user.id } });
    viaFrame.ws.close();

    const missing = wsClient(wsUrl(0));
    await missing.opened;
    missing.ws.send(JSON.stringify({ type: "send_message", data: {} }));
    await waitFor(() => missing.closed(), { what: "close without token" });
    expect(missing.closed()!.code).toBe(4401);
    expect(missing.frames[0]).toMatchObject({ type: "error", data: { code: "TOKEN_MISSING" } });

    // The shared transport suite checks the refusal's code and text; here, the /ws close code.
    const bad = wsClient(wsUrl(0, "?token=not.a.jwt"));
    await bad.opened;
    await waitFor(() => bad.closed(), { what: "close with bad token" });
    expect(bad.closed()!.code).toBe(4401);
  });

  it("answers bad frames with an error and closes oversize ones with 1009", async () => {
    const user = await registerUser(cluster.gateways[0]!.url);
    const c = wsClient(wsUrl(0, `?token=${user.accessToken}`));
    await c.opened;
    c.ws.send("this is not json");
    c.ws.send(JSON.stringify({ nope: true }));
    await waitFor(() => c.frames.filter((f) => f.type === "error").length === 2, { what: "two error frames" });
    expect(c.frames.filter((f) => f.type === "error").every((f) => f.data?.code === "MALFORMED_FRAME")).toBe(true);
    expect(await c.request("leave_room", { conversationId: "room" })).toEqual({ ok: true });
    expect(c.closed()).toBeUndefined();

    c.ws.send(JSON.stringify({ type: "send_message", data: { content: "x".repeat(20_000) } }));
    await waitFor(() => c.closed(), { what: "close after oversize frame" });
    expect(c.closed()!.code).toBe(1009);
  });
});
