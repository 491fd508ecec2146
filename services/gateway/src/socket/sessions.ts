import type { ServerToClientEvents, StoredMessage } from "@chat/shared/contracts";

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
  /** Conversations being replayed: live messages wait here so the device sees seq order. */
  holds: Map<string, StoredMessage[]>;
  /** Highest seq a resume replayed per conversation: live copies at or below it are not shown twice. */
  replayedUpTo: Map<string, number>;
}

/** Hands a live message to a device, unless a resume of its conversation is holding or already showed it. */
export function deliverMessage(session: ChatSession, message: StoredMessage): void {
  const held = session.holds.get(message.conversationId);
  if (held) {
    held.push(message);
    return;
  }
  if (message.seq <= (session.replayedUpTo.get(message.conversationId) ?? 0)) return;
  session.emit("message_received", { message });
}

/** A per-device queue: each step starts when the previous one settled. */
export function createSerialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** This gateway's connected devices by user: where delivery events are handed out. */
export function createLocalSessions() {
  const byUser = new Map<string, Set<ChatSession>>();
  let count = 0;
  return {
    add(session: ChatSession): void {
      const set = byUser.get(session.userId) ?? new Set();
      set.add(session);
      byUser.set(session.userId, set);
      count++;
    },
    remove(session: ChatSession): void {
      const set = byUser.get(session.userId);
      if (!set?.delete(session)) return;
      count--;
      if (set.size === 0) byUser.delete(session.userId);
    },
    ofUser(userId: string): Iterable<ChatSession> {
      return byUser.get(userId) ?? [];
    },
    *all(): Iterable<ChatSession> {
      for (const set of byUser.values()) yield* set;
    },
    /** Connected devices per user. */
    devicesByUser(): Map<string, number> {
      return new Map([...byUser].map(([userId, set]) => [userId, set.size]));
    },
    get size(): number {
      return count;
    },
  };
}

export type LocalSessions = ReturnType<typeof createLocalSessions>;
