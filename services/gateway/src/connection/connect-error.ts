import { UnauthorizedError, ValidationError } from "@chat/shared";

/** Why a connection was refused, as every transport shows it to the client. */
export interface ConnectRefusal {
  /** AUTH: bad or missing credentials; INVALID: a bad handshake; UNAVAILABLE: our side failed. */
  kind: "auth" | "invalid" | "unavailable";
  code: string;
  message: string;
}

/**
 * The one map from an error while opening a connection to what the client sees: a token or
 * handshake problem keeps its code and text, anything else (Redis away, a bug) becomes
 * UNAVAILABLE with a constant text, never the internal message.
 */
export function toConnectRefusal(err: unknown): ConnectRefusal {
  if (err instanceof UnauthorizedError) return { kind: "auth", code: err.code, message: err.message };
  if (err instanceof ValidationError) return { kind: "invalid", code: err.code, message: err.message };
  return { kind: "unavailable", code: "UNAVAILABLE", message: "Connection refused" };
}

/** An open that failed: `refusal` is what the transport sends before it closes. */
export class ConnectionRefusedError extends Error {
  constructor(readonly refusal: ConnectRefusal) {
    super(refusal.message);
    this.name = "ConnectionRefusedError";
  }
}

/** What a transport shows for a failed open: the core's refusal, or the map applied to anything else. */
export function refusalOf(err: unknown): ConnectRefusal {
  return err instanceof ConnectionRefusedError ? err.refusal : toConnectRefusal(err);
}
