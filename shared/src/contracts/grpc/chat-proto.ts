/** Where chat.proto is (load it with @grpc/proto-loader): `service chat.Chat`. */
export const chatProtoUrl = new URL("./chat.proto", import.meta.url);

/** The gRPC service path of the one streaming call. */
export const grpcConnectPath = "/chat.Chat/Connect";

/** A client -> server frame, as @grpc/proto-loader gives it (camelCase fields). */
export interface GrpcClientFrame {
  event: string;
  /** The payload as JSON; empty for none. */
  dataJson: string;
  /** 0 asks for no acknowledgement. */
  ackId: number;
}

/** A server -> client frame: an event, or `ack` answering the client frame with `ackId`. */
export interface GrpcServerFrame {
  event: string;
  dataJson: string;
  ackId: number;
}

/** Trailing metadata key that carries the error code when the stream is refused. */
export const grpcErrorCodeKey = "error-code";
