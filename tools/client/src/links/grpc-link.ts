import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { chatProtoUrl, grpcErrorCodeKey, type Ack, type GrpcClientFrame, type GrpcServerFrame } from "@chat/shared/contracts";
import type { ChatLink, Handshake } from "./chat-link.ts";

type ChatStream = grpc.ClientDuplexStream<GrpcClientFrame, GrpcServerFrame>;
type Pending = { resolve: (ack: Ack<Record<string, unknown>>) => void; reject: (err: Error) => void };

/**
 * gRPC (`chat.Chat/Connect` at `address`, host:port): one stream per connection, the token in
 * `authorization` metadata, the resume in `resume`. Response headers mean connected; it does
 * not reconnect by itself.
 */
export function grpcLink(address: string, handshake: Handshake): ChatLink {
  const definition = protoLoader.loadSync(fileURLToPath(chatProtoUrl), { keepCase: false, defaults: true });
  const Chat = (grpc.loadPackageDefinition(definition).chat as grpc.GrpcObject).Chat as grpc.ServiceClientConstructor;
  const client = new Chat(address, grpc.credentials.createInsecure(), { "grpc.keepalive_time_ms": 30_000, "grpc.keepalive_timeout_ms": 10_000 });
  const listeners = new Map<string, Array<(payload: never) => void>>();
  const connectListeners: Array<() => void> = [];
  const disconnectListeners: Array<(reason: string) => void> = [];
  const errorListeners: Array<(code: string, message: string) => void> = [];
  const pending = new Map<number, Pending>();
  let stream: ChatStream | undefined;
  let connected = false;
  let nextAck = 1;

  function failPending(reason: string): void {
    for (const p of pending.values()) p.reject(new Error(reason));
    pending.clear();
  }

  function connect(): void {
    if (stream) return;
    const { token, resume } = handshake();
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${token}`);
    if (resume) metadata.set("resume", JSON.stringify(resume));
    const call = (client as unknown as { Connect(m: grpc.Metadata): ChatStream }).Connect(metadata);
    stream = call;
    call.on("metadata", () => {
      connected = true;
      for (const l of connectListeners) l();
    });
    call.on("data", (frame: GrpcServerFrame) => {
      const data = frame.dataJson === "" ? undefined : (JSON.parse(frame.dataJson) as unknown);
      if (frame.event === "ack") {
        pending.get(frame.ackId)?.resolve(data as Ack<Record<string, unknown>>);
        pending.delete(frame.ackId);
        return;
      }
      for (const l of listeners.get(frame.event) ?? []) l(data as never);
    });
    // Every stream ends with a status: OK when we closed it, an error otherwise.
    call.on("error", () => undefined);
    call.on("status", (status: grpc.StatusObject) => {
      if (stream !== call) return;
      stream = undefined;
      const wasConnected = connected;
      connected = false;
      failPending("disconnected");
      if (wasConnected) for (const l of disconnectListeners) l(status.details || grpc.status[status.code]);
      else {
        const code = String(status.metadata.get(grpcErrorCodeKey)[0] ?? grpc.status[status.code]);
        for (const l of errorListeners) l(code, status.details);
      }
    });
  }

  return {
    request(event, payload, timeoutMs) {
      const call = stream;
      if (!call || !connected) return Promise.reject(new Error("not connected"));
      const ackId = nextAck++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(ackId);
          reject(new Error(`no ack of ${event} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(ackId, {
          resolve: (ack) => (clearTimeout(timer), resolve(ack)),
          reject: (err) => (clearTimeout(timer), reject(err)),
        });
        call.write({ event, dataJson: JSON.stringify(payload), ackId });
      });
    },
    on(event, listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener as (payload: never) => void]);
    },
    onConnect: (listener) => void connectListeners.push(listener),
    onDisconnect: (listener) => void disconnectListeners.push(listener),
    onConnectError: (listener) => void errorListeners.push(listener),
    get connected() {
      return connected;
    },
    retrying: false,
    connect,
    close() {
      const call = stream;
      stream = undefined;
      connected = false;
      failPending("closed");
      call?.cancel();
      client.close();
    },
  };
}
