import type { Server as HttpServer } from "node:http";
import type { Logger, TokenVerifier } from "@chat/shared";
import type { Presence } from "../presence/presence.ts";
import type { ChatActions } from "./chat-actions.ts";
import type { LocalSessions } from "./sessions.ts";

/** What a client transport (Socket.IO, plain WebSocket) needs to turn connections into sessions. */
export interface TransportDeps {
  server: HttpServer;
  logger: Logger;
  verifier: TokenVerifier;
  presence: Presence;
  actions: ChatActions;
  sessions: LocalSessions;
  maxPayloadBytes: number;
  eventsPerSecond: number;
  /** The user has no device left on this gateway. */
  onDisconnected: (userId: string) => void;
}
