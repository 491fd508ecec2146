import type { Ack, ClientEventName, ClientPayload, ServerToClientEvents } from "@chat/shared/contracts";

/** What a (re)connection sends in its handshake: asked anew on every attempt. */
export type Handshake = () => { token: string; resume?: Record<string, number> };

/**
 * The terminal client's connection to a gateway, whatever carries it (Socket.IO or gRPC):
 * the same events and acks, and the lifecycle the client's reconnect logic needs.
 */
export interface ChatLink {
  /** Sends an event and resolves with its ack; rejects after `timeoutMs` or when the link drops. */
  request<E extends ClientEventName>(event: E, payload: ClientPayload<E>, timeoutMs: number): Promise<Ack<Record<string, unknown>>>;
  on<E extends keyof ServerToClientEvents>(event: E, listener: ServerToClientEvents[E]): void;
  onConnect(listener: () => void): void;
  onDisconnect(listener: (reason: string) => void): void;
  /** A (re)connection failed: refused by the gateway (its code) or not reached. */
  onConnectError(listener: (code: string, message: string) => void): void;
  readonly connected: boolean;
  /** The link retries by itself after this failure (Socket.IO after a lost transport); otherwise the caller reconnects. */
  readonly retrying: boolean;
  connect(): void;
  close(): void;
}
