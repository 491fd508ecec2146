/**
 * Remembers who is typing where, so a "typing" whose "stop" never comes (tab closed,
 * network gone) is turned into a stop after `ttlMs`, and a disconnect stops them all.
 */
export function createTypingTracker(ttlMs: number, onExpire: (userId: string, conversationId: string) => void) {
  const timers = new Map<string, NodeJS.Timeout>();
  const key = (u: string, c: string) => `${u}\u0000${c}`;
  return {
    typing(userId: string, conversationId: string, isTyping: boolean): void {
      const k = key(userId, conversationId);
      clearTimeout(timers.get(k));
      timers.delete(k);
      if (!isTyping) return;
      const timer = setTimeout(() => {
        timers.delete(k);
        onExpire(userId, conversationId);
      }, ttlMs);
      timer.unref();
      timers.set(k, timer);
    },
    /** Ends every typing of this user (last device gone); returns the conversations it ended. */
    stopAll(userId: string): string[] {
      const ended: string[] = [];
      for (const [k, t] of timers) {
        const [u, c] = k.split("\u0000") as [string, string];
        if (u !== userId) continue;
        clearTimeout(t);
        timers.delete(k);
        ended.push(c);
      }
      return ended;
    },
  };
}
