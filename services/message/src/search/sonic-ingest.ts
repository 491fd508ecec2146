import { Socket } from "node:net";
import { backoffDelay, type Logger } from "@chat/shared";
import { channelState, SearchEngineUnavailable, type SonicOptions } from "./sonic.ts";

export interface SonicIngestOptions extends SonicOptions {
  /** Commands sent and not yet answered, at most. @default 256 */
  maxInFlight?: number;
  /** A PING after this long without a command keeps Sonic from closing an idle channel (its tcp_timeout). @default 30000 */
  keepAliveMs?: number;
}

interface Command {
  line: string;
  resolve: (answer: string) => void;
  reject: (err: Error) => void;
}

/** Sonic's escaping of text inside quotes: backslash, newline and quote. */
const quoted = (text: string) => `"${text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`;

/**
 * An ingest channel to Sonic that pipelines. sonic-channel sends a command only once the one
 * before it is answered, one socket write each; on this kind of box a write to a loopback
 * socket costs 150-250 µs of CPU, and three pushes per message made them the largest cost
 * of the message service. Sonic reads a channel as a stream of lines and answers each in
 * order, so this writes every command queued in the same turn of the event loop at once
 * and matches answers to commands in order.
 *
 * Same contract as the other channels (`createSonicSearch`): keeps itself connected with
 * backoff, reports its state, and a command fails at once with SearchEngineUnavailable when
 * the channel is down, or when its answer takes longer than the timeout (the connection is
 * then dropped and made again, since later answers could no longer be matched).
 */
export function createSonicIngest(options: SonicIngestOptions) {
  const { host, port, password, commandTimeoutMs = 5000, maxInFlight = 256, keepAliveMs = 30_000 } = options;
  const log: Logger = options.logger.child({ component: "sonic", mode: "ingest" });
  const state = channelState(log, options);
  let socket: Socket | undefined;
  let closed = false;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let keepAlive: NodeJS.Timeout | undefined;
  /** Checks, while answers are awaited, that the oldest is not overdue. */
  let overdue: NodeJS.Timeout | undefined;
  /** Written, in order, waiting for their answers. */
  let inFlight: Array<Command & { deadline: number }> = [];
  /** Accepted, not yet written (more than `maxInFlight` at once). */
  const queued: Command[] = [];
  let writeScheduled = false;

  function drop(reason: string): void {
    const failed = [...inFlight, ...queued.splice(0)];
    inFlight = [];
    clearInterval(overdue);
    overdue = undefined;
    for (const c of failed) c.reject(new SearchEngineUnavailable(reason));
    clearTimeout(keepAlive);
    const s = socket;
    socket = undefined;
    s?.destroy();
    state.set(false);
    if (!closed) {
      const delayMs = backoffDelay(++attempt, 500, 10_000);
      retryTimer = setTimeout(open, delayMs);
    }
  }

  function armKeepAlive(): void {
    clearTimeout(keepAlive);
    keepAlive = setTimeout(() => {
      if (state.connected) void send("PING").catch(() => undefined);
    }, keepAliveMs);
    keepAlive.unref();
  }

  /** Writes what is queued, up to `maxInFlight` unanswered, in one write. */
  function writeQueued(): void {
    writeScheduled = false;
    if (!socket || !state.connected) return;
    const room = Math.min(queued.length, maxInFlight - inFlight.length);
    if (room <= 0) return;
    const batch = queued.splice(0, room);
    const deadline = Date.now() + commandTimeoutMs;
    let payload = "";
    for (const c of batch) {
      payload += `${c.line}\n`;
      inFlight.push({ ...c, deadline });
    }
    socket.write(payload);
    armKeepAlive();
    overdue ??= setInterval(() => {
      if (inFlight.length === 0) {
        clearInterval(overdue);
        overdue = undefined;
      } else if (inFlight[0]!.deadline < Date.now()) drop(`no answer from the search engine in ${commandTimeoutMs} ms`);
    }, Math.min(1000, commandTimeoutMs));
  }

  function onLine(line: string): void {
    if (!state.connected) {
      // The handshake: a banner, then our START, then STARTED (or ENDED, refused).
      if (line.startsWith("CONNECTED")) socket?.write(`START ingest ${password}\n`);
      else if (line.startsWith("STARTED")) {
        attempt = 0;
        state.set(true);
        armKeepAlive();
        writeQueued();
      } else drop(`search engine refused the channel: ${line}`);
      return;
    }
    if (line.startsWith("ENDED")) return drop(`search engine ended the channel: ${line}`);
    const command = inFlight.shift();
    if (!command) return drop(`unexpected answer from the search engine: ${line}`);
    if (line.startsWith("ERR")) command.reject(new Error(`search engine: ${line} (to ${command.line.slice(0, 80)})`));
    else command.resolve(line);
    if (queued.length > 0) writeQueued();
  }

  function open(): void {
    if (closed) return;
    const s = new Socket();
    socket = s;
    let pending = "";
    s.setNoDelay(true);
    s.setEncoding("utf8");
    s.on("data", (chunk: string) => {
      pending += chunk;
      let end: number;
      while (socket === s && (end = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, end).replace(/\r$/, "");
        pending = pending.slice(end + 1);
        onLine(line);
      }
    });
    s.on("error", (err) => log.debug({ err }, "search engine channel error"));
    s.on("close", () => {
      if (socket === s) drop("search engine channel closed");
    });
    s.connect(port, host);
  }

  function send(line: string): Promise<string> {
    if (!state.connected || !socket) return Promise.reject(new SearchEngineUnavailable("The search engine is not connected"));
    return new Promise<string>((resolve, reject) => {
      queued.push({ line, resolve, reject });
      if (!writeScheduled) {
        writeScheduled = true;
        setImmediate(writeQueued);
      }
    });
  }

  return {
    start(): void {
      open();
    },
    get connected(): boolean {
      return state.connected;
    },
    /** Pushes text into an object of a bucket (`LANG(none)`: no stop-words, the words as they are). */
    push(collection: string, bucket: string, object: string, text: string): Promise<string> {
      return send(`PUSH ${collection} ${bucket} ${object} ${quoted(text)} LANG(none)`);
    },
    /** Removes an object from a bucket. */
    flusho(collection: string, bucket: string, object: string): Promise<string> {
      return send(`FLUSHO ${collection} ${bucket} ${object}`);
    },
    async close(): Promise<void> {
      const idle = state.connected && inFlight.length === 0 && queued.length === 0;
      closed = true;
      state.closed();
      clearTimeout(retryTimer);
      clearTimeout(keepAlive);
      clearInterval(overdue);
      const s = socket;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.once("close", () => resolve());
        if (idle) s.end("QUIT\n");
        else s.destroy();
        setTimeout(() => (s.destroy(), resolve()), 1000).unref();
      });
      socket = undefined;
    },
  };
}

export type SonicIngest = ReturnType<typeof createSonicIngest>;
