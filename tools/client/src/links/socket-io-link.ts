import { io, type Socket } from "socket.io-client";
import type { Ack, ClientToServerEvents, ServerToClientEvents } from "@chat/shared/contracts";
import type { ChatLink, Handshake } from "./chat-link.ts";

/** Socket.IO (WebSocket transport only), the handshake in `auth`; `connect()` starts it. */
export function socketIoLink(gateway: string, handshake: Handshake): ChatLink {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(gateway, {
    transports: ["websocket"],
    autoConnect: false,
    auth: (cb) => cb(handshake()),
  });
  return {
    request: (event, payload, timeoutMs) =>
      (socket.timeout(timeoutMs) as unknown as { emitWithAck(e: string, p: unknown): Promise<Ack<Record<string, unknown>>> }).emitWithAck(event, payload),
    on: (event, listener) => void socket.on(event, listener as never),
    onConnect: (listener) => void socket.on("connect", listener),
    onDisconnect: (listener) => void socket.on("disconnect", (reason) => listener(reason)),
    onConnectError: (listener) =>
      void socket.on("connect_error", (err) => listener((err as Error & { data?: { code?: string } }).data?.code ?? err.message, err.message)),
    get connected() {
      return socket.connected;
    },
    get retrying() {
      return socket.active;
    },
    connect: () => void socket.connect(),
    close: () => void socket.close(),
  };
}
