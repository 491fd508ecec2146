import SonicChannel from "sonic-channel";
import type { Logger } from "@chat/shared";
import { backoffDelay } from "@chat/shared";

export interface SonicOptions {
  host: string;
  port: number;
  password: string;
  logger: Logger;
  /** Longest wait for one command's answer. @default 5000 */
  commandTimeoutMs?: number;
  /** Called whenever the channel (re)connects or drops. */
  onStateChange?: (connected: boolean) => void;
}

/** The engine is not reachable now (down, starting, or not answering in time). */
export class SearchEngineUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SearchEngineUnavailable";
  }
}

/**
 * Collections, buckets and objects travel unquoted in Sonic's protocol (split on whitespace):
 * anything else than these characters could end a command and start another, so it is refused
 * here, before the client sees it. (Text travels quoted and escaped by the client.)
 */
const SAFE_NAME = /^[A-Za-z0-9:_.-]{1,128}$/;
export function checkSonicName(name: string): string {
  if (!SAFE_NAME.test(name)) throw new Error(`not a safe Sonic name: ${JSON.stringify(name)}`);
  return name;
}

/**
 * Text for Sonic: control characters (newlines included) become spaces, as the tokenizer reads
 * them anyway, and the client escapes quotes and backslashes. Sonic refuses a command line
 * over 20,000 bytes by closing the connection, so text is cut well below that.
 */
export function sonicText(text: string, maxChars = 4000): string {
  // eslint-disable-next-line no-control-regex
  return text.slice(0, maxChars).replace(/[\u0000-\u001F\u007F]+/g, " ");
}

/** A channel's connected state: logged when it changes, and reported to `onStateChange`. */
export function channelState(log: Logger, { host, port, onStateChange }: Pick<SonicOptions, "host" | "port" | "onStateChange">) {
  let connected = false;
  return {
    get connected(): boolean {
      return connected;
    },
    set(next: boolean): void {
      if (next === connected) return;
      connected = next;
      if (next) log.info({ host, port }, "search engine connected");
      else log.warn({ host, port }, "search engine connection lost");
      onStateChange?.(next);
    },
    /** Closed by its owner: not connected any more, and nobody to tell. */
    closed(): void {
      connected = false;
    },
  };
}

const errorOf = (what: string, reason: unknown) =>
  reason instanceof Error ? reason : new SearchEngineUnavailable(`${what}: ${typeof reason === "string" ? reason : JSON.stringify(reason)}`);

/**
 * The search channel to Sonic (queries are few and wait for their answer; indexing has its
 * own pipelined channels, sonic-ingest.ts), kept connected: sonic-channel retries a
 * connection that dropped, but not a first connection that failed, so this starts a new one
 * with backoff until the engine answers. Commands are only sent while connected (the client
 * would otherwise queue them for later): when it is not, they fail at once with
 * SearchEngineUnavailable, as they do when an answer takes longer than the timeout.
 */
export function createSonicSearch(options: SonicOptions) {
  const { host, port, password, logger, commandTimeoutMs = 5000 } = options;
  const log = logger.child({ component: "sonic", mode: "search" });
  let channel: SonicChannel.Search | undefined;
  let closed = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;

  const state = channelState(log, options);

  function open(): void {
    if (closed) return;
    const created = new SonicChannel.Search({ host, port, auth: password });
    channel = created;
    let everConnected = false;
    created.connect({
      connected: () => {
        everConnected = true;
        attempt = 0;
        state.set(true);
      },
      disconnected: () => state.set(false),
      timeout: () => state.set(false),
      retrying: () => state.set(false),
      error: (err: unknown) => {
        state.set(false);
        if (everConnected || closed || channel !== created) return;
        // A first connection that failed is not retried by the client: start another.
        void created.close().catch(() => undefined);
        const delayMs = backoffDelay(++attempt, 500, 10_000);
        log.debug({ err, delayMs }, "search engine not reachable; retrying");
        timer = setTimeout(open, delayMs);
      },
    });
  }

  return {
    start(): void {
      open();
    },
    get connected(): boolean {
      return state.connected;
    },
    /** Runs one command on the channel; fails at once when not connected. */
    async run<T>(what: string, command: (channel: SonicChannel.Search) => Promise<T>): Promise<T> {
      if (!state.connected || !channel) throw new SearchEngineUnavailable("The search engine is not connected");
      let timeout: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          command(channel).catch((reason: unknown) => {
            throw errorOf(what, reason);
          }),
          new Promise<never>((_, reject) => {
            timeout = setTimeout(() => reject(new SearchEngineUnavailable(`${what}: no answer in ${commandTimeoutMs} ms`)), commandTimeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timeout);
      }
    },
    async close(): Promise<void> {
      closed = true;
      clearTimeout(timer);
      state.closed();
      await channel?.close().catch(() => undefined);
    },
  };
}

export type SonicSearch = ReturnType<typeof createSonicSearch>;
