import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GrpcClientFrame, GrpcServerFrame, StoredMessage } from "../../../shared/src/contracts/index.ts";
import { sleep } from "../../../shared/src/index.ts";
import { waitFor } from "../../../shared/src/testing/index.ts";
import { registerUser } from "../../../test/helpers/api.ts";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { createConversation, history } from "../../../test/helpers/conversations.ts";
import { createClientTracker, expectOk } from "../../../test/helpers/sockets.ts";
import { loadChatService } from "../src/transports/grpc-server.ts";
import { grpcAddressIn, startGrpcGateways, type GrpcGateway } from "./grpc-gateways.ts";
import { grpcTransport, type TransportClient } from "./transport-clients.ts";

const messagesOf = (c: TransportClient) => c.on("message_received").map((p) => (p as { message: StoredMessage }).message);

describe("gRPC transport (chat.Chat/Connect)", () => {
  let cluster: TestCluster;
  let gateways: GrpcGateway[] = [];
  const grpcClients: TransportClient[] = [];
  const sockets = createClientTracker();
  const viaGrpc = grpcTransport((url) => grpcAddressIn(gateways)(url));
  const connectGrpc = async (i: number, token: string, resume?: Record<string, number>) => {
    const c = await viaGrpc.connect(gateways[i]!.url, token, resume);
    grpcClients.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startCluster({ gateways: 0, env: { SOCKET_MAX_PAYLOAD_BYTES: "8192" } });
    gateways = await startGrpcGateways(cluster, 2);
  });
  afterAll(async () => {
    for (const c of grpcClients) c.close();
    sockets.closeAll();
    await cluster?.stop();
  });

  it("interoperates with Socket.IO across gateways, and resumes after a reconnect with no gap and no duplicate", async () => {
    const [alice, bob] = await Promise.all([registerUser(gateways[0]!.url), registerUser(gateways[1]!.url)]);
    const conv = await createConversation(gateways[0]!.url, alice, [bob]);
    const a = await connectGrpc(0, alice.accessToken);
    const b = await sockets.connect(gateways[1]!.url, bob.accessToken);

    const sent = await a.request("send_message", { conversationId: conv.id, content: "from grpc", clientMsgId: "g-1" });
    expect(sent).toEqual({ ok: true, messageId: expect.any(String) });
    const [got] = await b.waitForMessages(1);
    expect(got).toMatchObject({ content: "from grpc", messageId: sent.ok && sent.messageId, senderId: alice.id });
    expectOk(await b.request("send_message", { conversationId: conv.id, content: "from socket.io", clientMsgId: "s-1" }));
    await waitFor(() => messagesOf(a).some((m) => m.content === "from socket.io"), { what: "the Socket.IO message over gRPC" });
    expect(await a.request("join_room", { conversationId: conv.id })).toEqual({ ok: true });

    const lastSeen = Math.max(...messagesOf(a).map((m) => m.seq));
    a.close();
    for (let i = 1; i <= 5; i++) expectOk(await b.request("send_message", { conversationId: conv.id, content: `missed ${i}`, clientMsgId: `m-${i}` }));
    await waitFor(async () => (await history(gateways[0]!.url, alice, conv.id)).messages.length === 7, { what: "7 stored" });

    const back = await connectGrpc(1, alice.accessToken, { [conv.id]: lastSeen });
    await waitFor(() => back.on("resumed").length === 1, { what: "resumed" });
    expect(back.on("resumed")[0]).toEqual({ replayed: 5, truncated: [] });
    expectOk(await b.request("send_message", { conversationId: conv.id, content: "live", clientMsgId: "l-1" }));
    await waitFor(() => messagesOf(back).length >= 6, { what: "replay and live" });
    await sleep(300);
    expect(messagesOf(back).map((m) => m.content)).toEqual(["missed 1", "missed 2", "missed 3", "missed 4", "missed 5", "live"]);
    expect(messagesOf(back).map((m) => m.seq)).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it("replays through a first `resume` event too", async () => {
    const [alice, bob] = await Promise.all([registerUser(gateways[0]!.url), registerUser(gateways[0]!.url)]);
    const conv = await createConversation(gateways[0]!.url, alice, [bob]);
    const a = await sockets.connect(gateways[0]!.url, alice.accessToken);
    for (let i = 1; i <= 4; i++) expectOk(await a.request("send_message", { conversationId: conv.id, content: `e${i}`, clientMsgId: `e-${i}` }));
    await waitFor(async () => (await history(gateways[0]!.url, alice, conv.id)).messages.length === 4, { what: "stored" });
    const b = await connectGrpc(1, bob.accessToken);
    expect(await b.request("resume", { conversations: { [conv.id]: 1 } })).toEqual({ ok: true, replayed: 3, truncated: [] });
    expect(messagesOf(b).map((m) => m.seq)).toEqual([2, 3, 4]);
  });

  /** A raw stream on `address`: what it receives, and its final status. */
  function rawStream(address: string, metadata: grpc.Metadata) {
    const client = new (loadChatService())(address, grpc.credentials.createInsecure());
    const call = (client as unknown as { Connect(m: grpc.Metadata): grpc.ClientDuplexStream<GrpcClientFrame, GrpcServerFrame> }).Connect(metadata);
    const frames: GrpcServerFrame[] = [];
    call.on("data", (f: GrpcServerFrame) => frames.push(f));
    call.on("error", () => undefined);
    const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve)).finally(() => client.close());
    return { call, frames, status };
  }
  const bearer = (token: string) => {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${token}`);
    return m;
  };

  it("answers the frames of a half-closed stream, then ends it with OK", async () => {
    const user = await registerUser(gateways[0]!.url);
    const s = rawStream(gateways[0]!.grpcAddress, bearer(user.accessToken));
    s.call.write({ event: "leave_room", dataJson: JSON.stringify({ conversationId: "room" }), ackId: 1 });
    s.call.write({ event: "nope", dataJson: "{}", ackId: 2 });
    s.call.write({ event: "leave_room", dataJson: "{not json", ackId: 3 });
    s.call.end();
    expect((await s.status).code).toBe(grpc.status.OK);
    // Acks answer in the order their events finish, not the order they came in.
    const frames = s.frames.map((f) => [f.event, f.ackId, JSON.parse(f.dataJson) as unknown]);
    expect(frames).toHaveLength(3);
    expect(frames).toEqual(expect.arrayContaining([
      ["ack", 1, { ok: true }],
      ["ack", 2, { ok: false, error: { code: "UNKNOWN_EVENT", message: "Unknown event: nope" } }],
      ["error", 0, { code: "MALFORMED_FRAME", message: "data_json must be JSON" }],
    ]));
  });

  it("ends its streams with UNAVAILABLE when the gateway shuts down", async () => {
    const [extra] = await startGrpcGateways(cluster, 1, "drain");
    const user = await registerUser(extra!.url);
    const s = rawStream(extra!.grpcAddress, bearer(user.accessToken));
    await new Promise((resolve) => s.call.once("metadata", resolve));
    extra!.process.child.kill("SIGTERM");
    const status = await s.status;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(status.details).toBe("gateway shutting down");
    expect(await extra!.process.exited).toBe(0);
  });

  it("ends a refused stream with UNAUTHENTICATED, the refusal's text and its code in the trailers", async () => {
    const client = new (loadChatService())(gateways[0]!.grpcAddress, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        const call = (client as unknown as { Connect(m: grpc.Metadata): grpc.ClientDuplexStream<unknown, unknown> }).Connect(new grpc.Metadata());
        call.on("error", () => undefined);
        call.on("status", resolve);
      });
      expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(status.details).toBe("Missing access token");
      expect(status.metadata.get("error-code")).toEqual(["TOKEN_MISSING"]);
    } finally {
      client.close();
    }
  });

  it("refuses frames over the payload limit and keeps the per-connection rate limit", async () => {
    const user = await registerUser(gateways[0]!.url);
    const big = await connectGrpc(0, user.accessToken);
    await expect(big.request("send_message", { conversationId: "x", content: "x".repeat(20_000), clientMsgId: "big" })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
    });
    const c = await connectGrpc(0, user.accessToken);
    const acks = await Promise.all(Array.from({ length: 150 }, () => c.request("leave_room", { conversationId: "room" })));
    expect(acks.some((x) => !x.ok && x.error.code === "RATE_LIMITED")).toBe(true);
  });
});
