import * as grpc from "@grpc/grpc-js";
import { io, type Socket } from "socket.io-client";
import { WebSocket } from "ws";
import { grpcErrorCodeKey, type Ack, type GrpcClientFrame, type GrpcServerFrame } from "../../../shared/src/contracts/index.ts";
import { waitFor } from "../../../shared/src/testing/index.ts";
import { loadChatService } from "../src/transports/grpc-server.ts";

/** One device connection over some transport, as the shared transport suite drives it. */
export interface TransportClient {
  /** Sends an event and resolves with its acknowledgement. */
  request(event: string, payload: unknown): Promise<Ack<Record<string, unknown>>>;
  /** Every payload of this server event received so far, in arrival order. */
  on(event: string): unknown[];
  close(): void;
}

/** How a transport refused a connection: the same on every transport. */
export class ConnectRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TransportFactory {
  name: string;
  /** Resolves once the device is connected; rejects with ConnectRefused when the gateway refuses it. */
  connect(gatewayUrl: string, token: string | undefined, resume?: Record<string, number>): Promise<TransportClient>;
}

const ACK_TIMEOUT_MS = 15_000;

/** Records server events by name. */
function recorder() {
  const received: Array<{ event: string; payload: unknown }> = [];
  return {
    record: (event: string, payload: unknown) => received.push({ event, payload }),
    on: (event: string) => received.filter((r) => r.event === event).map((r) => r.payload),
  };
}

export const socketIoTransport: TransportFactory = {
  name: "Socket.IO",
  async connect(gatewayUrl, token, resume) {
    const socket: Socket = io(gatewayUrl, {
      transports: ["websocket"],
      auth: { ...(token !== undefined ? { token } : {}), ...(resume ? { resume } : {}) },
      reconnection: false,
      forceNew: true,
    });
    const events = recorder();
    socket.onAny((event: string, payload: unknown) => events.record(event, payload));
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", (err: Error & { data?: { code?: string } }) => {
        socket.disconnect();
        reject(new ConnectRefused(err.data?.code ?? "NONE", err.message));
      });
    });
    return {
      request: (event, payload) => socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload) as Promise<Ack<Record<string, unknown>>>,
      on: events.on,
      close: () => void socket.disconnect(),
    };
  },
};

interface Frame {
  type: string;
  data?: unknown;
  ack?: number;
}

export const plainWsTransport: TransportFactory = {
  name: "/ws",
  async connect(gatewayUrl, token, resume) {
    // A token alone goes in the URL; without one, or with a resume, the first frame authenticates.
    const inUrl = token !== undefined && !resume;
    const ws = new WebSocket(`${gatewayUrl.replace(/^http/, "ws")}/ws${inUrl ? `?token=${encodeURIComponent(token)}` : ""}`);
    const frames: Frame[] = [];
    const events = recorder();
    ws.on("message", (raw) => {
      const frame = JSON.parse(raw.toString()) as Frame;
      frames.push(frame);
      if (frame.type !== "ack") events.record(frame.type, frame.data);
    });
    let nextAck = 1;
    const request = async (event: string, payload: unknown) => {
      const ack = nextAck++;
      ws.send(JSON.stringify({ type: event, data: payload, ack }));
      const frame = await waitFor(() => frames.find((f) => f.type === "ack" && f.ack === ack), { timeoutMs: ACK_TIMEOUT_MS, what: `ack of ${event}` });
      return frame.data as Ack<Record<string, unknown>>;
    };
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    if (!inUrl) void request("auth", { ...(token !== undefined ? { token } : {}), ...(resume ? { resume } : {}) }).catch(() => undefined);
    const outcome = await waitFor(() => frames.find((f) => f.type === "ready" || f.type === "error"), { what: "ready or error" });
    if (outcome.type === "error") {
      const { code, message } = outcome.data as { code: string; message: string };
      ws.close();
      throw new ConnectRefused(code, message);
    }
    return { request, on: events.on, close: () => ws.close() };
  },
};

type ChatStream = grpc.ClientDuplexStream<GrpcClientFrame, GrpcServerFrame>;

/** gRPC (`chat.Chat/Connect`): `grpcAddressOf` maps a gateway's HTTP URL to its gRPC host:port. */
export function grpcTransport(grpcAddressOf: (gatewayUrl: string) => string): TransportFactory {
  const Chat = loadChatService();
  return {
    name: "gRPC",
    async connect(gatewayUrl, token, resume) {
      const client = new Chat(grpcAddressOf(gatewayUrl), grpc.credentials.createInsecure());
      const metadata = new grpc.Metadata();
      if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
      if (resume) metadata.set("resume", JSON.stringify(resume));
      const stream = (client as unknown as { Connect(m: grpc.Metadata): ChatStream }).Connect(metadata);
      const events = recorder();
      const pending = new Map<number, { resolve: (ack: Ack<Record<string, unknown>>) => void; reject: (err: Error) => void }>();
      stream.on("data", (frame: GrpcServerFrame) => {
        const data = frame.dataJson === "" ? undefined : (JSON.parse(frame.dataJson) as unknown);
        if (frame.event !== "ack") events.record(frame.event, data);
        else pending.get(frame.ackId)?.resolve(data as Ack<Record<string, unknown>>);
      });
      await new Promise<void>((resolve, reject) => {
        stream.once("metadata", () => resolve());
        stream.once("error", (err: grpc.ServiceError) => {
          client.close();
          reject(new ConnectRefused(String(err.metadata.get(grpcErrorCodeKey)[0] ?? grpc.status[err.code]), err.details));
        });
      });
      // The stream ended with an error status: nothing pending will be answered.
      stream.on("error", (err: grpc.ServiceError) => {
        for (const p of pending.values()) p.reject(err);
      });
      let nextAck = 1;
      return {
        request(event, payload) {
          const ackId = nextAck++;
          return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no ack of ${event}`)), ACK_TIMEOUT_MS);
            const settle = () => {
              clearTimeout(timer);
              pending.delete(ackId);
            };
            pending.set(ackId, {
              resolve: (ack) => (settle(), resolve(ack)),
              reject: (err) => (settle(), reject(err)),
            });
            stream.write({ event, dataJson: JSON.stringify(payload), ackId });
          });
        },
        on: events.on,
        close: () => {
          stream.cancel();
          client.close();
        },
      };
    },
  };
}
