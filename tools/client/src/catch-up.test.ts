import { describe, expect, it } from "vitest";
import {
  ContiguousSeqs,
  RESUME_BACKOFF,
  ResumePlan,
  ackOutcome,
  awaitAnswer,
  catchUp,
  isRetriableResumeError,
  pageAfter,
  resumeOutcome,
  retryDelay,
  type ResumeOutcome,
} from "./catch-up.ts";

const ok = (truncated: string[] = [], replayed = 0): ResumeOutcome => ({ ok: true, replayed, truncated });
const fail = (code: string): ResumeOutcome => ({ ok: false, code });

describe("ContiguousSeqs", () => {
  it("advances the mark only through contiguous seqs, never over a gap", () => {
    const seqs = new ContiguousSeqs();
    seqs.track("c", 10);
    expect(seqs.observe("c", 11)).toBe(11);
    expect(seqs.observe("c", 13)).toBe(11); // 12 is missing
    expect(seqs.observe("c", 14)).toBe(11);
    expect(seqs.hasGap("c")).toBe(true);
    expect(seqs.marks()).toEqual({ c: 11 });
    expect(seqs.observe("c", 12)).toBe(14); // the gap fills: the mark jumps over what was seen above it
    expect(seqs.hasGap("c")).toBe(false);
  });

  it("ignores repeats and seqs at or below the mark", () => {
    const seqs = new ContiguousSeqs();
    seqs.track("c", 5);
    expect(seqs.observe("c", 3)).toBe(5);
    expect(seqs.observe("c", 5)).toBe(5);
    seqs.observe("c", 7);
    seqs.observe("c", 7);
    expect(seqs.observe("c", 6)).toBe(7);
    expect(seqs.hasGap("c")).toBe(false);
  });

  it("starts an untracked conversation just below its first seen seq", () => {
    const seqs = new ContiguousSeqs();
    expect(seqs.observe("new", 4)).toBe(4);
    expect(seqs.mark("new")).toBe(4);
    expect(seqs.mark("unknown")).toBeUndefined();
  });

  it("does not let a later `track` raise the mark over an open gap", () => {
    const seqs = new ContiguousSeqs();
    seqs.track("c", 1);
    seqs.observe("c", 3);
    seqs.track("c", 20); // e.g. a fresh conversation list with lastSeq 20
    expect(seqs.mark("c")).toBe(1);
  });

  it("forgets a conversation", () => {
    const seqs = new ContiguousSeqs();
    seqs.track("a", 1);
    seqs.track("b", 2);
    seqs.forget("a");
    expect(seqs.marks()).toEqual({ b: 2 });
  });
});

describe("retryDelay", () => {
  it("doubles from 1 s to a 10 s cap", () => {
    const noJitter = () => 0;
    expect([0, 1, 2, 3, 4, 5, 20].map((a) => retryDelay(a, RESUME_BACKOFF, noJitter))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it("takes up to a quarter off at random", () => {
    expect(retryDelay(0, RESUME_BACKOFF, () => 1)).toBe(750);
    expect(retryDelay(4, RESUME_BACKOFF, () => 0.5)).toBe(8750);
    for (let i = 0; i < 100; i++) {
      const d = retryDelay(2);
      expect(d).toBeGreaterThanOrEqual(3000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});

describe("isRetriableResumeError", () => {
  it("retries passing failures, client-side timeouts and codes it does not know", () => {
    for (const code of ["DEPENDENCY_UNAVAILABLE", "UNAVAILABLE", "INTERNAL", "RATE_LIMITED", "ACK_TIMEOUT", "RESUME_TIMEOUT", "DISCONNECTED", "SOMETHING_NEW"]) {
      expect(isRetriableResumeError(code), code).toBe(true);
    }
  });

  it("does not retry what trying again cannot fix", () => {
    for (const code of ["NOT_A_MEMBER", "VALIDATION_FAILED", "FORBIDDEN", "CONVERSATION_NOT_FOUND", "NOT_FOUND", "UNKNOWN_EVENT", "TOKEN_EXPIRED"]) {
      expect(isRetriableResumeError(code), code).toBe(false);
    }
  });
});

describe("resumeOutcome / ackOutcome", () => {
  it("reads `resumed` events and `resume` acks", () => {
    expect(resumeOutcome({ replayed: 3, truncated: ["a"] })).toEqual(ok(["a"], 3));
    expect(resumeOutcome({ ok: true, replayed: 0, truncated: [] })).toEqual(ok());
    expect(resumeOutcome({ replayed: 0, truncated: [], error: { code: "DEPENDENCY_UNAVAILABLE" } })).toEqual(fail("DEPENDENCY_UNAVAILABLE"));
    expect(resumeOutcome({ ok: false, error: { code: "NOT_A_MEMBER" } })).toEqual(fail("NOT_A_MEMBER"));
  });

  it("turns a rejected ack into ACK_TIMEOUT or DISCONNECTED", async () => {
    await expect(ackOutcome(Promise.reject(new Error("operation has timed out")), () => true)).resolves.toEqual(fail("ACK_TIMEOUT"));
    await expect(ackOutcome(Promise.reject(new Error("socket has been disconnected")), () => false)).resolves.toEqual(fail("DISCONNECTED"));
    await expect(ackOutcome(Promise.resolve({ ok: true, replayed: 1, truncated: [] }), () => true)).resolves.toEqual(ok([], 1));
  });
});

describe("awaitAnswer", () => {
  it("resolves with the first answer only", async () => {
    const answer = awaitAnswer(10_000, new AbortController().signal);
    answer.settle(ok([], 2));
    answer.settle(fail("X"));
    await expect(answer.outcome).resolves.toEqual(ok([], 2));
  });

  it("fails with RESUME_TIMEOUT when nothing comes, DISCONNECTED when the connection ends", async () => {
    await expect(awaitAnswer(5, new AbortController().signal).outcome).resolves.toEqual(fail("RESUME_TIMEOUT"));
    const connection = new AbortController();
    const answer = awaitAnswer(10_000, connection.signal);
    connection.abort();
    await expect(answer.outcome).resolves.toEqual(fail("DISCONNECTED"));
  });
});

describe("ResumePlan", () => {
  const noJitter = () => 0;

  it("is done after one success", () => {
    const plan = new ResumePlan(["a", "b"], RESUME_BACKOFF, noJitter);
    expect(plan.settle({ a: 1, b: 2 }, ok())).toEqual({ next: "done" });
    expect(plan.done).toBe(true);
    expect(plan.request({ a: 1, b: 2 })).toBeUndefined();
  });

  it("retries passing failures with backoff, with the current marks, until one succeeds", () => {
    const plan = new ResumePlan(["a", "b"], RESUME_BACKOFF, noJitter);
    expect(plan.settle({ a: 1, b: 2 }, fail("DEPENDENCY_UNAVAILABLE"))).toEqual({ next: "resume", delayMs: 1000, retry: 1 });
    expect(plan.request({ a: 5, b: 2, c: 9 })).toEqual({ a: 5, b: 2 }); // current marks, only the conversations asked for
    expect(plan.settle({ a: 5, b: 2 }, fail("UNAVAILABLE"))).toEqual({ next: "resume", delayMs: 2000, retry: 2 });
    expect(plan.settle({ a: 5, b: 2 }, fail("ACK_TIMEOUT"))).toEqual({ next: "resume", delayMs: 4000, retry: 3 });
    expect(plan.retries).toBe(3);
    expect(plan.settle({ a: 5, b: 2 }, ok())).toEqual({ next: "done" });
  });

  it("splits after a non-retriable failure and drops only the conversation that fails alone", () => {
    const plan = new ResumePlan(["a", "b", "c"], RESUME_BACKOFF, noJitter);
    const marks = { a: 1, b: 2, c: 3 };
    expect(plan.settle(marks, fail("NOT_A_MEMBER"))).toEqual({ next: "resume", delayMs: 0, retry: 0 });
    expect(plan.request(marks)).toEqual({ a: 1 });
    expect(plan.settle({ a: 1 }, ok())).toEqual({ next: "resume", delayMs: 0, retry: 0 });
    expect(plan.request(marks)).toEqual({ b: 2 });
    expect(plan.settle({ b: 2 }, fail("NOT_A_MEMBER"))).toEqual({ next: "dropped", conversationId: "b", delayMs: 0 });
    expect(plan.request(marks)).toEqual({ c: 3 });
    expect(plan.settle({ c: 3 }, fail("UNAVAILABLE"))).toEqual({ next: "resume", delayMs: 1000, retry: 1 }); // still retried
    expect(plan.settle({ c: 3 }, ok())).toEqual({ next: "done" });
  });

  it("skips conversations the client no longer tracks", () => {
    const plan = new ResumePlan(["a", "b"]);
    plan.settle({ a: 1, b: 1 }, fail("UNAVAILABLE"));
    expect(plan.request({ b: 4 })).toEqual({ b: 4 });
    expect(plan.request({})).toBeUndefined();
    expect(plan.done).toBe(true);
  });
});

describe("catchUp", () => {
  function fakeIo(answers: ResumeOutcome[], marks: () => Record<string, number>) {
    const sent: Array<Record<string, number>> = [];
    const slept: number[] = [];
    const retries: string[] = [];
    const dropped: string[] = [];
    const resumed: string[][] = [];
    const controller = new AbortController();
    return {
      sent,
      slept,
      retries,
      dropped,
      resumed,
      controller,
      io: {
        signal: controller.signal,
        marks,
        random: () => 0,
        send: (conversations: Record<string, number>) => {
          sent.push(conversations);
          return Promise.resolve(answers.shift() ?? ok());
        },
        sleep: (ms: number) => {
          slept.push(ms);
          return Promise.resolve();
        },
        onRetry: (code: string) => retries.push(code),
        onDropped: (id: string, code: string) => dropped.push(`${id}:${code}`),
        onResumed: (o: { truncated: string[] }) => resumed.push(o.truncated),
      },
    };
  }

  it("sends nothing when the handshake resume succeeded", async () => {
    const f = fakeIo([], () => ({ a: 1 }));
    await expect(catchUp({ a: 1 }, Promise.resolve(ok(["a"])), f.io)).resolves.toEqual({ caughtUp: true, retries: 0, dropped: [] });
    expect(f.sent).toEqual([]);
    expect(f.resumed).toEqual([["a"]]);
  });

  it("resends a failed resume with backoff and the marks of the moment until it succeeds", async () => {
    let mark = 3;
    const f = fakeIo([fail("UNAVAILABLE"), fail("ACK_TIMEOUT"), ok([], 7)], () => ({ a: mark++ }));
    const result = await catchUp({ a: 2 }, Promise.resolve(fail("DEPENDENCY_UNAVAILABLE")), f.io);
    expect(result).toEqual({ caughtUp: true, retries: 3, dropped: [] });
    expect(f.slept).toEqual([1000, 2000, 4000]);
    expect(f.sent).toEqual([{ a: 3 }, { a: 4 }, { a: 5 }]);
    expect(f.retries).toEqual(["DEPENDENCY_UNAVAILABLE", "UNAVAILABLE", "ACK_TIMEOUT"]);
  });

  it("drops a conversation that cannot be resumed and catches up on the rest", async () => {
    const f = fakeIo([ok(), fail("NOT_A_MEMBER")], () => ({ a: 1, b: 2 }));
    const result = await catchUp({ a: 1, b: 2 }, Promise.resolve(fail("NOT_A_MEMBER")), f.io);
    expect(result).toEqual({ caughtUp: true, retries: 0, dropped: ["b"] });
    expect(f.sent).toEqual([{ a: 1 }, { b: 2 }]);
    expect(f.dropped).toEqual(["b:NOT_A_MEMBER"]);
  });

  it("stops when its connection ends", async () => {
    const f = fakeIo([], () => ({ a: 1 }));
    f.io.sleep = (ms: number) => {
      f.slept.push(ms);
      f.controller.abort();
      return Promise.resolve();
    };
    await expect(catchUp({ a: 1 }, Promise.resolve(fail("UNAVAILABLE")), f.io)).resolves.toMatchObject({ caughtUp: false });
    expect(f.sent).toEqual([]);
  });
});

describe("pageAfter", () => {
  it("pages from the mark until hasMore is false, retrying a failed page", async () => {
    const asked: number[] = [];
    const got: number[] = [];
    let failOnce = true;
    const pages: Record<number, { messages: Array<{ seq: number }>; hasMore: boolean }> = {
      10: { messages: [{ seq: 11 }, { seq: 12 }], hasMore: true },
      12: { messages: [{ seq: 13 }], hasMore: false },
    };
    const done = await pageAfter(
      10,
      (afterSeq) => {
        asked.push(afterSeq);
        if (afterSeq === 12 && failOnce) {
          failOnce = false;
          return Promise.reject(new Error("HTTP 503"));
        }
        return Promise.resolve(pages[afterSeq]!);
      },
      (m) => void got.push(m.seq),
      new AbortController().signal,
      { minMs: 1, maxMs: 1, jitter: 0 },
    );
    expect(done).toBe(true);
    expect(asked).toEqual([10, 12, 12]);
    expect(got).toEqual([11, 12, 13]);
  });
});
