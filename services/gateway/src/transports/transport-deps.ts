import type { Server as HttpServer } from "node:http";
import type { Logger } from "@chat/shared";
import type { ConnectionCore } from "../connection/connection-core.ts";

/** What a client transport (Socket.IO, plain WebSocket) needs: its framing runs on top of the core. */
export interface TransportDeps {
  server: HttpServer;
  logger: Logger;
  core: ConnectionCore;
  maxPayloadBytes: number;
}
