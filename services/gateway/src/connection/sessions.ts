import type { MessageChange, ServerToClientEvents, StoredMessage } from "@chat/shared/contracts";

/** What takes a seq in a conversation and reaches devices: a message, or an edit or delete of one. */
export type SequenceEntry = StoredMessage | MessageChange;

/** One connected device, whatever its transport (Socket.IO or plain WebSocket). */
export interface ChatSession {
  id: string;
  userId: string;
  username: string;
  /** Conversations this device joined (scopes typing). */
  rooms: Set<string>;
  emit<E extends keyof ServerToClientEvents>(event: E, payload: Parameters<ServerToClientEvents[E]>[0]): void;
  /** Runs `fn` after every earlier call on this device has finished: its events keep their order. */
  ordered<T>(fn: () => Promise<T>): Promise<T>;
  /** Conversations being replayed: live entries wait here so the device sees seq order. */
  holds: Map<string, SequenceEntry[]>;
  /** Highest seq a resume replayed per conversation: live copies at or below it are not shown twice. */
  replayedUpTo: Map<string, number>;
}

/** Shows an entry on a device as its event. */
export function showEntry(session: ChatSession, entry: SequenceEntry): void {
  if (!("type" in entry)) session.emit("message_received", { message: entry });
  else if (entry.type === "edited") session.emit("message_edited", entry);
  else session.emit("message_deleted", entry);
}

/** Hands a live entry to a device, unless a resume of its conversation is holding or already showed it. */
export function deliverEntry(session: ChatSession, entry: SequenceEntry): void {
  const held = session.holds.size > 0 ? session.holds.get(entry.conversationId) : undefined;
  if (held) {
    held.push(entry);
    return;
  }
  if (entry.seq <= (session.replayedUpTo.get(entry.conversationId) ?? 0)) return;
  showEntry(session, entry);
}

type Emit = <E extends keyof ServerToClientEvents>(event: E, payload: Parameters<ServerToClientEvents[E]>[0]) => void;

/**
 * A connected device's session, the same on every transport. Its sets and maps and its queue
 * are made on first use: most devices never join a room, resume or queue two events at once,
 * and an idle connection should cost the gateway as little as possible.
 */
export class DeviceSession implements ChatSession {
  #rooms?: Set<string>;
  #holds?: Map<string, SequenceEntry[]>;
  #replayedUpTo?: Map<string, number>;
  #tail?: Promise<unknown>;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly username: string,
    private readonly send: Emit,
    /** Conversations a resume in the handshake will replay: their live messages wait until it has. */
    resuming?: Record<string, number>,
  ) {
    const ids = Object.keys(resuming ?? {});
    if (ids.length > 0) this.#holds = new Map(ids.map((conversationId) => [conversationId, []]));
  }

  get rooms(): Set<string> {
    return (this.#rooms ??= new Set());
  }
  get holds(): Map<string, SequenceEntry[]> {
    return (this.#holds ??= new Map());
  }
  get replayedUpTo(): Map<string, number> {
    return (this.#replayedUpTo ??= new Map());
  }

  emit<E extends keyof ServerToClientEvents>(event: E, payload: Parameters<ServerToClientEvents[E]>[0]): void {
    this.send(event, payload);
  }

  /** Each call starts when the previous one settled. */
  ordered<T>(fn: () => Promise<T>): Promise<T> {
    const run = (this.#tail ?? Promise.resolve()).then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

/**
 * This gateway's connected devices by user: where delivery events are handed out. A user with
 * one device (most of them) is kept without a set of their own.
 */
export function createLocalSessions() {
  const byUser = new Map<string, ChatSession | Set<ChatSession>>();
  let count = 0;
  return {
    add(session: ChatSession): void {
      const held = byUser.get(session.userId);
      if (held === session || (held instanceof Set && held.has(session))) return;
      if (held === undefined) byUser.set(session.userId, session);
      else if (held instanceof Set) held.add(session);
      else byUser.set(session.userId, new Set([held, session]));
      count++;
    },
    remove(session: ChatSession): void {
      const held = byUser.get(session.userId);
      if (held === session) byUser.delete(session.userId);
      else if (held instanceof Set && held.delete(session)) {
        if (held.size === 1) byUser.set(session.userId, held.values().next().value!);
      } else return;
      count--;
    },
    ofUser(userId: string): Iterable<ChatSession> {
      const held = byUser.get(userId);
      if (held === undefined) return [];
      return held instanceof Set ? held : [held];
    },
    *all(): Iterable<ChatSession> {
      for (const held of byUser.values()) {
        if (held instanceof Set) yield* held;
        else yield held;
      }
    },
    /** Connected devices per user. */
    devicesByUser(): Map<string, number> {
      return new Map([...byUser].map(([userId, held]) => [userId, held instanceof Set ? held.size : 1]));
    },
    get size(): number {
      return count;
    },
    /** Distinct users with a device here. */
    get users(): number {
      return byUser.size;
    },
  };
}

export type LocalSessions = ReturnType<typeof createLocalSessions>;
