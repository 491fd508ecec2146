import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Logger } from "@chat/shared";
import { chatProtoUrl, grpcErrorCodeKey, type GrpcClientFrame, type GrpcServerFrame } from "@chat/shared/contracts";
import type { Connection, ConnectionCore } from "../connection/connection-core.ts";
import { refusalOf, type ConnectRefusal } from "../connection/connect-error.ts";

export interface GrpcTransportOptions {
  logger: Logger;
  core: ConnectionCore;
  /** Interface to bind, the HTTP server's. */
  host: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Largest frame accepted, the Socket.IO payload limit. */
  maxPayloadBytes: number;
}

/** Pings a quiet client every 30 s and drops it when a ping is not answered within 10 s. */
const KEEPALIVE_TIME_MS = 30_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;
/** How long a shutdown waits for clients to close their connections once every stream has ended. */
const SHUTDOWN_GRACE_MS = 1_000;

const refusalStatus: Record<ConnectRefusal["kind"], grpc.status> = {
  auth: grpc.status.UNAUTHENTICATED,
  invalid: grpc.status.INVALID_ARGUMENT,
  unavailable: grpc.status.UNAVAILABLE,
};

type ChatCall = grpc.ServerDuplexStream<GrpcClientFrame, GrpcServerFrame>;

/** chat.Chat loaded from the shared proto: `.service` to serve it, `new` it for a client. */
export function loadChatService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(fileURLToPath(chatProtoUrl), { keepCase: false, defaults: true });
  return (grpc.loadPackageDefinition(definition).chat as grpc.GrpcObject).Chat as grpc.ServiceClientConstructor;
}

/** The `authorization: Bearer <token>` metadata, if any. */
function bearerToken(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  const match = typeof value === "string" ? /^Bearer\s+(\S+)$/i.exec(value.trim()) : null;
  return match?.[1];
}

/** The `resume` metadata as JSON; text that is not JSON is passed on as it is, for the core to refuse. */
function resumeOf(metadata: grpc.Metadata): unknown {
  const value = metadata.get("resume")[0];
  if (value === undefined) return undefined;
  const text = value.toString();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * gRPC as a client transport: `chat.Chat/Connect`, one bidirectional stream per device whose
 * frames carry the events, JSON payloads and acks of Socket.IO. The handshake (metadata) and
 * every frame go to the connection core; a refused stream ends with UNAUTHENTICATED (or
 * INVALID_ARGUMENT / UNAVAILABLE), the refusal's text as details and its code in the
 * `error-code` trailer; response headers mean the device is connected.
 */
export async function startGrpcTransport({ logger, core, host, port, maxPayloadBytes }: GrpcTransportOptions) {
  const log = logger.child({ component: "grpc" });
  const server = new grpc.Server({
    "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
    "grpc.max_receive_message_length": maxPayloadBytes,
  });

  server.addService(loadChatService().service, {
    Connect: (call: ChatCall) => {
      let ended = false;
      const write = (event: string, data: unknown, ackId = 0) => {
        if (!ended) call.write({ event, dataJson: JSON.stringify(data), ackId });
      };
      const end = (code: grpc.status, details: string, errorCode?: string) => {
        if (ended) return;
        ended = true;
        const metadata = new grpc.Metadata();
        if (errorCode) metadata.set(grpcErrorCodeKey, errorCode);
        call.emit("error", { code, details, metadata } satisfies Partial<grpc.StatusObject>);
      };

      // Frames wait for the handshake, in their order.
      const ready: Promise<Connection | undefined> = core
        .open({
          token: bearerToken(call.metadata),
          resume: resumeOf(call.metadata),
          emit: (event, payload) => write(event, payload),
          disconnect: (reason) => end(grpc.status.UNAVAILABLE, reason),
        })
        .then(
          (connection) => {
            if (ended || call.cancelled) {
              connection.close();
              return undefined;
            }
            call.sendMetadata(new grpc.Metadata());
            return connection;
          },
          (err: unknown) => {
            const refusal = refusalOf(err);
            end(refusalStatus[refusal.kind], refusal.message, refusal.code);
            return undefined;
          },
        );

      /** Events not answered yet: a half-closed stream ends once they are. */
      const inFlight = new Set<Promise<void>>();
      const handle = (connection: Connection, frame: GrpcClientFrame) => {
        let payload: unknown;
        if (frame.dataJson !== "") {
          try {
            payload = JSON.parse(frame.dataJson) as unknown;
          } catch {
            write("error", { code: "MALFORMED_FRAME", message: "data_json must be JSON" });
            return;
          }
        }
        const handled = connection.dispatch(frame.event, payload, frame.ackId ? (ack) => write("ack", ack, frame.ackId) : undefined);
        inFlight.add(handled);
        void handled.finally(() => inFlight.delete(handled));
      };

      call.on("data", (frame: GrpcClientFrame) => void ready.then((connection) => connection && handle(connection, frame)));
      const closed = () => {
        void ready.then((connection) => connection?.close());
      };
      // The client sends no more frames: answer those it sent, then end with OK.
      call.on("end", () => {
        void ready.then(async (connection) => {
          await Promise.allSettled([...inFlight]);
          connection?.close();
          if (!ended) {
            ended = true;
            call.end();
          }
        });
      });
      call.on("cancelled", () => {
        ended = true;
        closed();
      });
      call.on("close", closed);
      call.on("error", (err) => log.debug({ err }, "grpc stream error"));
    },
  });

  const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  log.info({ host, port: bound }, "grpc listening");

  return {
    port: bound,
    /**
     * Stops accepting streams at once and resolves when the server is down. Open streams are the
     * core's to end (its drain): once `drained`, clients get a short grace to close their connections.
     */
    close(drained: Promise<void>): Promise<void> {
      return new Promise<void>((resolve) => {
        let force: NodeJS.Timeout | undefined;
        let down = false;
        server.tryShutdown(() => {
          down = true;
          clearTimeout(force);
          resolve();
        });
        void drained.then(() => {
          if (down) return;
          force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, SHUTDOWN_GRACE_MS);
        });
      });
    },
  };
}
