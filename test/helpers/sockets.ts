import { io, type Socket } from "socket.io-client";
import type { Ack, ClientToServerEvents, ServerToClientEvents, StoredMessage } from "../../shared/src/contracts/index.ts";
import { waitFor } from "../../shared/src/testing/index.ts";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ChatClient {
  socket: ClientSocket;
  /** Every `message_received`, in arrival order. */
  messages: StoredMessage[];
  /** Every other server event, in arrival order. */
  events: Array<{ event: string; payload: unknown }>;
  /** Emits and resolves with the ack (rejects after a timeout). */
  request<T extends object = object>(event: string, payload: unknown): Promise<Ack<T>>;
  waitForMessages(count: number, timeoutMs?: number): Promise<StoredMessage[]>;
  close(): void;
}

/** A Socket.IO client on one gateway, recording what it receives. */
export async function connectClient(
  gatewayUrl: string,
  token: string,
  options: { autoConnect?: boolean; resume?: Record<string, number> } = {},
): Promise<ChatClient> {
  const socket: ClientSocket = io(gatewayUrl, {
    transports: ["websocket"],
    auth: options.resume ? { token, resume: options.resume } : { token },
    reconnection: false,
    forceNew: true,
    autoConnect: options.autoConnect ?? true,
  });
  const messages: StoredMessage[] = [];
  const events: ChatClient["events"] = [];
  socket.on("message_received", ({ message }) => messages.push(message));
  socket.onAny((event: string, payload: unknown) => {
    if (event !== "message_received") events.push({ event, payload });
  });
  if (options.autoConnect ?? true) {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", (err) => reject(err));
    });
  }
  return {
    socket,
    messages,
    events,
    request: <T extends object>(event: string, payload: unknown) =>
      (socket.timeout(15_000) as unknown as { emitWithAck(e: string, p: unknown): Promise<Ack<T>> }).emitWithAck(event, payload),
    waitForMessages: async (count, timeoutMs = 20_000) => {
      await waitFor(() => messages.length >= count, { timeoutMs, what: `${count} messages (have ${messages.length})` });
      return messages;
    },
    close: () => socket.disconnect(),
  };
}

/** Fails the test with the server's error when an ack is not ok. */
export function expectOk<T extends object>(ack: Ack<T>): { ok: true } & T {
  if (!ack.ok) throw new Error(`ack failed: ${ack.error.code} ${ack.error.message}`);
  return ack;
}

/** Connects clients for a suite and closes every one of them at the end. */
export function createClientTracker() {
  const clients: ChatClient[] = [];
  return {
    async connect(gatewayUrl: string, token: string, options?: { resume?: Record<string, number> }): Promise<ChatClient> {
      const c = await connectClient(gatewayUrl, token, options);
      clients.push(c);
      return c;
    },
    closeAll(): void {
      for (const c of clients.splice(0)) c.close();
    },
  };
}
