import { createRequire } from "node:module";
import type { Socket } from "node:net";
import { MongoNetworkError } from "mongodb";

/** The part of the MongoDB driver's (6.22) `Connection` that this fix touches. */
interface ConnectionInternals {
  id: number | "<monitor>";
  address: string;
  closed: boolean;
  error?: Error;
  socket: Socket;
  writeCommand(command: unknown, options: { signal?: AbortSignal }): Promise<void>;
  onError(error: Error): void;
  once(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
}

const FIXED = Symbol.for("chat-cluster.mongodb-closed-socket");

/**
 * The MongoDB driver (6.22, and 7.5 still) can wait forever on a command written into a socket
 * that the server has just closed. When the server's FIN arrives, Node destroys the socket at
 * once but emits `close`, which is how the driver learns of it, only a turn of the event loop
 * later. A pooled connection handed out in between passes the driver's "closed?" check,
 * `socket.write` returns false without an `error` (the stream is destroyed), and the driver
 * waits for a `drain` that never comes; the `close` that follows rejects only a pending read.
 * No socket timeout fires on a destroyed socket. So an operation started as the store went
 * away never settled and held its caller for good: the message service's chunk until its
 * 45 s try limit, a monitor's check until forever (the server then stays "Unknown").
 *
 * Patched here: a command on a socket already destroyed fails at once with the network error
 * the driver would have raised on `close`, and a command waiting to write fails as soon as its
 * connection closes. Both are ordinary network errors, which the driver and our retries handle.
 *
 * Applied once per process, on first import of the Mongo client.
 */
export function fixMongodbWriteToClosedSocket(): void {
  const require = createRequire(import.meta.url);
  const { Connection } = require("mongodb/lib/cmap/connection.js") as { Connection: { prototype: ConnectionInternals & { [FIXED]?: true } } };
  const proto = Connection.prototype;
  if (proto[FIXED]) return;
  const write = proto.writeCommand;
  if (typeof write !== "function" || typeof proto.onError !== "function") throw new Error("the MongoDB driver changed its Connection: review fixMongodbWriteToClosedSocket");
  proto.writeCommand = async function (this: ConnectionInternals, command, options) {
    const closedError = () => this.error ?? new MongoNetworkError(`connection ${this.id} to ${this.address} closed`);
    if (this.socket.destroyed) {
      const error = closedError();
      this.onError(error);
      throw error;
    }
    const closed = new AbortController();
    const onClose = () => closed.abort(closedError());
    this.once("close", onClose);
    try {
      return await write.call(this, command, { ...options, signal: options.signal ? AbortSignal.any([options.signal, closed.signal]) : closed.signal });
    } finally {
      this.off("close", onClose);
    }
  };
  proto[FIXED] = true;
}
