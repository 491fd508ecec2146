/**
 * What one device has seen of each conversation: the highest seq up to which it has seen
 * every message (the "contiguous" mark a resume asks from), and the seqs above a gap.
 * Seqs of a conversation start at 1 and increase by 1, so the mark only moves when the
 * next seq arrives; the set above it empties as the gap fills.
 */
export class SeqTracker {
  private readonly conversations = new Map<string, { mark: number; above: Set<number> }>();

  /** Starts tracking a conversation whose messages up to `mark` are known (e.g. its lastSeq at creation). */
  init(conversationId: string, mark: number): void {
    const known = this.conversations.get(conversationId);
    if (!known) {
      this.conversations.set(conversationId, { mark, above: new Set() });
      return;
    }
    if (mark > known.mark) {
      known.mark = mark;
      for (const seq of known.above) if (seq <= mark) known.above.delete(seq);
      this.advance(known);
    }
  }

  /**
   * Records a seq. A conversation seen for the first time starts just below it: what came
   * before belongs to a time this device could not have known about.
   * @returns the contiguous mark after the observation
   */
  observe(conversationId: string, seq: number): number {
    let state = this.conversations.get(conversationId);
    if (!state) {
      state = { mark: seq - 1, above: new Set() };
      this.conversations.set(conversationId, state);
    }
    if (seq > state.mark) {
      state.above.add(seq);
      this.advance(state);
    }
    return state.mark;
  }

  /** The contiguous mark of a conversation (undefined if never seen). */
  mark(conversationId: string): number | undefined {
    return this.conversations.get(conversationId)?.mark;
  }

  /** Seqs seen above the mark (a gap is open when this is not 0). */
  aboveMark(conversationId: string): number {
    return this.conversations.get(conversationId)?.above.size ?? 0;
  }

  /** `{ conversationId: mark }` for every tracked conversation: a resume payload. */
  marks(): Record<string, number> {
    return Object.fromEntries([...this.conversations].map(([id, s]) => [id, s.mark]));
  }

  private advance(state: { mark: number; above: Set<number> }): void {
    while (state.above.delete(state.mark + 1)) state.mark++;
  }
}
