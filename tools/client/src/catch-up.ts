/**
 * Catching up after a reconnect, as the `resume` protocol asks of a client: the logic shared
 * by the terminal client and the load tester (the web client keeps its own copy, as it is
 * bundled for the browser and the gateway's image does not ship tools/):
 *
 * - resume from the last *contiguously* seen seq of each conversation, never from the
 *   highest one seen (that would skip a gap for good);
 * - a resume that fails for a passing reason leaves the server holding the live messages of
 *   those conversations, so it is sent again, with the current marks, after a backoff, until
 *   one succeeds;
 * - a non-retriable failure is not retried for the conversation it concerns: as the answer
 *   does not say which one that is, the resume is split into one conversation per request,
 *   and a single conversation that fails that way is dropped;
 * - conversations a resume reports as `truncated` are paged through REST `afterSeq`.
 *
 * Nothing here touches a socket or the network: the clients pass their I/O in (only the
 * waits use timers, and every one of them ends when its connection's AbortSignal does).
 */

/** The highest seq up to which every message of each conversation has been seen, and the seqs seen above a gap. */
export class ContiguousSeqs {
  private readonly conversations = new Map<string, { mark: number; above: Set<number> }>();

  /**
   * Starts tracking a conversation known up to `mark` (e.g. its `lastSeq` when listed). A
   * conversation already tracked keeps its mark: raising it could jump over a gap.
   */
  track(conversationId: string, mark: number): void {
    if (!this.conversations.has(conversationId)) this.conversations.set(conversationId, { mark, above: new Set() });
  }

  /**
   * Records a seen seq. A conversation seen for the first time starts just below it (what
   * came before it predates this client). Seqs start at 1 and increase by 1 per conversation,
   * so the mark only moves when the next seq arrives; seqs above a gap wait until it fills.
   * @returns the conversation's mark after the observation
   */
  observe(conversationId: string, seq: number): number {
    let state = this.conversations.get(conversationId);
    if (!state) this.conversations.set(conversationId, (state = { mark: seq - 1, above: new Set() }));
    if (seq > state.mark) {
      state.above.add(seq);
      while (state.above.delete(state.mark + 1)) state.mark++;
    }
    return state.mark;
  }

  /** The contiguous mark of a conversation, undefined if it is not tracked. */
  mark(conversationId: string): number | undefined {
    return this.conversations.get(conversationId)?.mark;
  }

  /** Whether seqs above the mark have been seen (a gap is open). */
  hasGap(conversationId: string): boolean {
    return (this.conversations.get(conversationId)?.above.size ?? 0) > 0;
  }

  /** Stops tracking a conversation (one this user can no longer resume). */
  forget(conversationId: string): void {
    this.conversations.delete(conversationId);
  }

  /** `{ conversationId: mark }` for every tracked conversation: a resume payload. */
  marks(): Record<string, number> {
    return Object.fromEntries([...this.conversations].map(([id, s]) => [id, s.mark]));
  }
}

export interface Backoff {
  /** The first delay. */
  minMs: number;
  /** The delay stops doubling here. */
  maxMs: number;
  /** Fraction of each delay taken off at random, so devices that failed together do not retry together. */
  jitter: number;
}

/** 1 s doubling to 10 s, each up to a quarter shorter at random. */
export const RESUME_BACKOFF: Backoff = { minMs: 1000, maxMs: 10_000, jitter: 0.25 };

/** How long to wait before retry number `attempt` (0 for the first retry). */
export function retryDelay(attempt: number, backoff: Backoff = RESUME_BACKOFF, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.max(0, attempt));
  return Math.round(base * (1 - backoff.jitter * random()));
}

/**
 * Codes of failures that trying again cannot fix (the server also releases what it held for
 * them). Any other code is retried, including ones this client does not know: a passing
 * failure mistaken for a final one would leave the server holding live messages for good,
 * while a final one mistaken for a passing one only costs a request every few seconds.
 */
const FINAL_CODES = new Set([
  "NOT_A_MEMBER",
  "FORBIDDEN",
  "NOT_FOUND",
  "VALIDATION_FAILED",
  "SCHEMA_INVALID",
  "MALFORMED_FRAME",
  "MALFORMED_JSON",
  "PAYLOAD_TOO_LARGE",
  "UNKNOWN_EVENT",
  "UNAUTHORIZED",
  "TOKEN_MISSING",
  "TOKEN_INVALID",
  "TOKEN_EXPIRED",
  "TOKEN_REVOKED",
]);

/** Whether a failed resume is worth sending again (DEPENDENCY_UNAVAILABLE, UNAVAILABLE, a timeout…). */
export function isRetriableResumeError(code: string): boolean {
  return !FINAL_CODES.has(code) && !code.endsWith("_NOT_FOUND");
}

/** What one resume came to: its ack / `resumed` event, or a client-side code (ACK_TIMEOUT, RESUME_TIMEOUT, DISCONNECTED). */
export type ResumeOutcome = { ok: true; replayed: number; truncated: string[] } | { ok: false; code: string };

/** Reads a `resumed` event or a `resume` ack (`{ ok, replayed, truncated, error? }`) as an outcome. */
export function resumeOutcome(answer: { ok?: boolean; replayed?: number; truncated?: string[]; error?: { code: string } }): ResumeOutcome {
  if (answer.error || answer.ok === false) return { ok: false, code: answer.error?.code ?? "UNKNOWN" };
  return { ok: true, replayed: answer.replayed ?? 0, truncated: answer.truncated ?? [] };
}

export type ResumeStep =
  | { next: "done" }
  /** Send `request(marks)` again after `delayMs` (0: at once). */
  | { next: "resume"; delayMs: number; retry: number }
  /** Likewise, after a conversation was dropped for a non-retriable failure. */
  | { next: "dropped"; conversationId: string; delayMs: number };

/**
 * The conversations of one connection that still need a successful resume, and what to do
 * after each answer. Created with the conversations of the first resume (the handshake's).
 */
export class ResumePlan {
  private readonly pending: Set<string>;
  private split = false;
  private failures = 0;

  constructor(
    conversationIds: Iterable<string>,
    private readonly backoff: Backoff = RESUME_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {
    this.pending = new Set(conversationIds);
  }

  get done(): boolean {
    return this.pending.size === 0;
  }

  /** Consecutive retriable failures so far. */
  get retries(): number {
    return this.failures;
  }

  /**
   * The next `resume` payload: every conversation still pending at its current mark (or the
   * first one alone, once a non-retriable failure split them); undefined when none is left.
   * A pending conversation no longer in `marks` was forgotten by the client and is skipped.
   */
  request(marks: Record<string, number>): Record<string, number> | undefined {
    for (const id of this.pending) if (marks[id] === undefined) this.pending.delete(id);
    const ids = [...this.pending];
    if (ids.length === 0) return undefined;
    return Object.fromEntries((this.split ? ids.slice(0, 1) : ids).map((id) => [id, marks[id]!]));
  }

  /** Takes the outcome of the resume that carried `request`. */
  settle(request: Record<string, number>, outcome: ResumeOutcome): ResumeStep {
    const ids = Object.keys(request);
    if (outcome.ok) {
      for (const id of ids) this.pending.delete(id);
      this.failures = 0;
      return this.done ? { next: "done" } : { next: "resume", delayMs: 0, retry: 0 };
    }
    if (isRetriableResumeError(outcome.code)) {
      const delayMs = retryDelay(this.failures, this.backoff, this.random);
      this.failures++;
      return { next: "resume", delayMs, retry: this.failures };
    }
    this.failures = 0;
    if (ids.length > 1) {
      // Which conversation failed is not said: one at a time finds out.
      this.split = true;
      return { next: "resume", delayMs: 0, retry: 0 };
    }
    const [conversationId] = ids;
    if (conversationId === undefined) return this.done ? { next: "done" } : { next: "resume", delayMs: 0, retry: 0 };
    this.pending.delete(conversationId);
    return { next: "dropped", conversationId, delayMs: 0 };
  }
}

export interface CatchUpIo {
  /** The current contiguous marks (the tracker's `marks()`). */
  marks(): Record<string, number>;
  /** Sends `resume` with these conversations; resolves with its outcome (a timeout or lost connection as a failed one), never rejects. */
  send(conversations: Record<string, number>): Promise<ResumeOutcome>;
  /** Aborted when the connection is gone: a new one starts its own catch-up. */
  signal: AbortSignal;
  /** A failed resume, to be sent again in `retryInMs`. */
  onRetry?(code: string, retryInMs: number, retry: number): void;
  /** A conversation given up for a non-retriable failure (the caller may stop tracking it). */
  onDropped?(conversationId: string, code: string): void;
  /** A successful resume (its `truncated` conversations are the caller's to page through REST). */
  onResumed?(outcome: { replayed: number; truncated: string[] }): void;
  /** @default setTimeout, cut short by `signal` */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  backoff?: Backoff;
  random?: () => number;
}

/**
 * The answer to a handshake's resume (its `resumed` event, handed to `settle`); a failed
 * outcome if none comes within `timeoutMs` (RESUME_TIMEOUT) or the connection ends first
 * (DISCONNECTED). Later calls of `settle` are ignored.
 */
export function awaitAnswer(timeoutMs: number, signal: AbortSignal): { outcome: Promise<ResumeOutcome>; settle(outcome: ResumeOutcome): void } {
  let settle: (outcome: ResumeOutcome) => void = () => undefined;
  const outcome = new Promise<ResumeOutcome>((resolve) => {
    let settled = false;
    const onAbort = () => settle({ ok: false, code: "DISCONNECTED" });
    settle = (answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(answer);
    };
    const timer = setTimeout(() => settle({ ok: false, code: "RESUME_TIMEOUT" }), timeoutMs);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort);
  });
  return { outcome, settle: (answer) => settle(answer) };
}

/** The outcome of a `resume` sent with an ack timeout: a rejection (timeout, lost connection) as a failed outcome. */
export function ackOutcome(ack: Promise<Parameters<typeof resumeOutcome>[0]>, connected: () => boolean): Promise<ResumeOutcome> {
  return ack.then(resumeOutcome, (): ResumeOutcome => ({ ok: false, code: connected() ? "ACK_TIMEOUT" : "DISCONNECTED" }));
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

export interface CatchUpResult {
  /** Every conversation asked for was resumed (or dropped); false when the connection went first. */
  caughtUp: boolean;
  /** Resumes that failed and were sent again. */
  retries: number;
  dropped: string[];
}

/**
 * Drives a connection's catch-up to the end: takes the answer to the first resume (`first`,
 * e.g. the handshake's `resumed`, for the `conversations` it asked for) and sends `resume`
 * again as long as some conversation still needs one, with backoff between retriable failures.
 */
export async function catchUp(conversations: Record<string, number>, first: Promise<ResumeOutcome>, io: CatchUpIo): Promise<CatchUpResult> {
  const plan = new ResumePlan(Object.keys(conversations), io.backoff, io.random);
  const wait = io.sleep ?? sleep;
  const result: CatchUpResult = { caughtUp: false, retries: 0, dropped: [] };
  let request: Record<string, number> | undefined = conversations;
  let outcome = await first;
  for (;;) {
    if (io.signal.aborted) return result;
    if (outcome.ok) io.onResumed?.(outcome);
    const step = plan.settle(request, outcome);
    if (step.next === "dropped") {
      result.dropped.push(step.conversationId);
      io.onDropped?.(step.conversationId, outcome.ok ? "UNKNOWN" : outcome.code);
    }
    if (step.next === "resume" && step.retry > 0) {
      result.retries++;
      io.onRetry?.(outcome.ok ? "UNKNOWN" : outcome.code, step.delayMs, step.retry);
    }
    if (step.next === "done") break;
    if (step.delayMs > 0) await wait(step.delayMs, io.signal);
    if (io.signal.aborted) return result;
    request = plan.request(io.marks());
    if (!request) break;
    outcome = await io.send(request);
  }
  result.caughtUp = true;
  return result;
}

/**
 * Pages what a truncated resume left out through REST `afterSeq`, from `from` (the
 * conversation's mark) until `hasMore` is false; a failed page is retried with backoff as
 * long as `signal` allows. Each message goes to `onMessage` (which observes it in the tracker).
 * @returns true once everything was paged, false if `signal` aborted first
 */
export async function pageAfter<M extends { seq: number }>(
  from: number,
  fetchPage: (afterSeq: number) => Promise<{ messages: M[]; hasMore: boolean }>,
  onMessage: (message: M) => void | Promise<void>,
  signal: AbortSignal,
  backoff: Backoff = RESUME_BACKOFF,
): Promise<boolean> {
  let after = from;
  for (let failures = 0; !signal.aborted; ) {
    let page: { messages: M[]; hasMore: boolean };
    try {
      page = await fetchPage(after);
    } catch {
      await sleep(retryDelay(failures++, backoff), signal);
      continue;
    }
    if (signal.aborted) return false;
    failures = 0;
    for (const message of page.messages) await onMessage(message);
    const last = page.messages.at(-1)?.seq ?? after;
    if (!page.hasMore || last <= after) return true;
    after = last;
  }
  return false;
}
