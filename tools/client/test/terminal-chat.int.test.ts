import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerUser } from "../../../test/helpers/api.ts";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { connectClient, expectOk } from "../../../test/helpers/sockets.ts";
import { uniqueName, waitFor } from "../../../shared/src/testing/index.ts";
import { freePort } from "../../../test/helpers/processes.ts";
import { runTerminalChat, type TerminalChatOptions } from "../src/terminal-chat.ts";

/** Starts the terminal client on a scripted stdin and opens the chat with `username`. */
async function chatWith(username: string, options: Omit<TerminalChatOptions, "input" | "output">) {
  const input = new PassThrough();
  const output = new PassThrough();
  let screen = "";
  output.on("data", (d: Buffer) => (screen += d.toString()));
  const done = runTerminalChat({ ...options, input, output });
  await waitFor(() => screen.includes("commands:"), { what: "the client's prompt", timeoutMs: 20_000 });
  input.write(`/open ${username}\n`);
  await waitFor(() => screen.includes(`-- ${username} --`), { what: "conversation opened" });
  return { input, screen: () => screen, done };
}

describe("the terminal client, driven through a scripted stdin", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2 });
  });
  afterAll(() => cluster?.stop());

  it("registers, opens a chat by username, exchanges live messages and typing, and quits", async () => {
    const alice = await registerUser(cluster.gateways[0]!.url, "alice");
    const aliceSocket = await connectClient(cluster.gateways[0]!.url, alice.accessToken);
    const bobName = uniqueName("bob").replace(/-/g, "_").slice(0, 30);
    const { input, screen, done } = await chatWith(alice.username, { gateway: cluster.gateways[1]!.url, user: bobName, password: "bob's password" });
    expect(screen()).toContain(`registered as ${bobName}`);
    input.write("hello from the terminal\n");
    const [got] = await aliceSocket.waitForMessages(1);
    expect(got!.content).toBe("hello from the terminal");

    expectOk(await aliceSocket.request("join_room", { conversationId: got!.conversationId }));
    expectOk(await aliceSocket.request("typing", { conversationId: got!.conversationId, isTyping: true }));
    await waitFor(() => screen().includes(`… ${alice.username} is typing`), { what: "typing shown" });
    expectOk(await aliceSocket.request("send_message", { conversationId: got!.conversationId, content: "hi terminal", clientMsgId: "t-1" }));
    await waitFor(() => screen().includes(`${alice.username}: hi terminal`), { what: "live message shown" });

    input.write("/list\n");
    await waitFor(() => screen().includes(`1) ${alice.username}`), { what: "conversation listed" });
    input.write("/quit\n");
    await done;
    expect(screen()).toContain("bye");
    aliceSocket.close();
  });

  it("chats over gRPC with --grpc (login still over HTTP)", async () => {
    const grpcPort = await freePort();
    const gateway = await cluster.spawn("gateway-grpc", "services/gateway/src/main.ts", { GATEWAY_ID: "client-grpc-gw", GRPC_PORT: String(grpcPort) });
    const alice = await registerUser(cluster.gateways[0]!.url, "alice");
    const aliceSocket = await connectClient(cluster.gateways[0]!.url, alice.accessToken);
    const carolName = uniqueName("carol").replace(/-/g, "_").slice(0, 30);
    const { input, screen, done } = await chatWith(alice.username, { gateway: gateway.url, grpc: `127.0.0.1:${grpcPort}`, user: carolName, password: "carol's password" });
    expect(screen()).toContain("chat over gRPC");
    input.write("hello over grpc\n");
    const [got] = await aliceSocket.waitForMessages(1);
    expect(got!.content).toBe("hello over grpc");
    expectOk(await aliceSocket.request("send_message", { conversationId: got!.conversationId, content: "hi grpc", clientMsgId: "g-1" }));
    await waitFor(() => screen().includes(`${alice.username}: hi grpc`), { what: "live message shown" });
    input.write("/quit\n");
    await done;
    expect(screen()).toContain("bye");
    aliceSocket.close();
  });
});
