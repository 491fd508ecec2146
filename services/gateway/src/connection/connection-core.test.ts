import { describe, expect, it } from "vitest";
import { UnauthorizedError, ValidationError, createLogger, type AccessClaims } from "@chat/shared";
import type { Ack } from "@chat/shared/contracts";
import type { ChatActions } from "../chat/chat-actions.ts";
import type { Presence } from "../presence/presence.ts";
import { ConnectionRefusedError } from "./connect-error.ts";
import { createConnectionCore } from "./connection-core.ts";
import { createLocalSessions } from "./sessions.ts";

/** A core on fakes: tokens are user ids, "boom" makes presence fail like a Redis outage. */
function fakeCore(options: { resume?: ChatActions["resume"]; eventsPerSecond?: number } = {}) {
  const events: string[] = [];
  const verifier = {
    verify: async (token: string | undefined): Promise<AccessClaims> => {
      if (!token) throw new UnauthorizedError("Missing access token", "TOKEN_MISSING");
      return { userId: token, username: token, sessionId: "s", jti: "j", exp: 0 } as AccessClaims;
    },
  };
  const presence = {
    connected: async (userId: string) => {
      if (userId === "boom") throw new Error("redis: connection reset at 10.0.0.7");
      events.push(`online ${userId}`);
    },
    disconnected: async (userId: string) => void events.push(`offline ${userId}`),
  } as unknown as Presence;
  const actions = {
    leave_room: async () => ({}),
    resume: options.resume ?? (async () => ({ replayed: 0, truncated: [] })),
  } as unknown as ChatActions;
  const sessions = createLocalSessions();
  const core = createConnectionCore({
    logger: createLogger({ name: "test", level: "silent" }),
    verifier,
    presence,
    actions,
    sessions,
    eventsPerSecond: options.eventsPerSecond ?? 50,
    onDisconnected: (userId) => events.push(`last device of ${userId} left`),
  });
  return { core, events, sessions };
}

const refusalOf = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectionRefusedError);
  return (err as ConnectionRefusedError).refusal;
};

const noop = () => undefined;

describe("connection core", () => {
  it("maps every refusal through one map, never leaking an internal message", async () => {
    const { core, sessions } = fakeCore();
    expect(await refusalOf(core.open({ token: undefined, emit: noop, disconnect: noop }))).toEqual({ kind: "auth", code: "TOKEN_MISSING", message: "Missing access token" });
    expect(await refusalOf(core.open({ token: "alice", resume: { "bad id!": 1 }, emit: noop, disconnect: noop }))).toEqual({
      kind: "invalid",
      code: "VALIDATION_FAILED",
      message: "Invalid resume in handshake",
    });
    expect(await refusalOf(core.open({ token: "boom", emit: noop, disconnect: noop }))).toEqual({ kind: "unavailable", code: "UNAVAILABLE", message: "Connection refused" });
    expect(sessions.size).toBe(0);
  });

  it("reports a failed handshake resume without details", async () => {
    const sent: Array<[string, unknown]> = [];
    const { core } = fakeCore({ resume: () => Promise.reject(new ValidationError("Nope", { fields: [] })) });
    await core.open({ token: "alice", resume: { c1: 3 }, emit: (event, payload) => sent.push([event, payload]), disconnect: noop });
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([["resumed", { replayed: 0, truncated: [], error: { code: "VALIDATION_FAILED", message: "Nope" } }]]);
  });

  it("answers unknown events and rate-limits each connection on its own", async () => {
    const { core } = fakeCore({ eventsPerSecond: 1 });
    const a = await core.open({ token: "alice", emit: noop, disconnect: noop });
    const b = await core.open({ token: "alice", emit: noop, disconnect: noop });
    const acks: Ack[] = [];
    await a.dispatch("nope", {}, (ack) => acks.push(ack));
    for (let i = 0; i < 3; i++) await a.dispatch("leave_room", { conversationId: "c1" }, (ack) => acks.push(ack));
    await b.dispatch("leave_room", { conversationId: "c1" }, (ack) => acks.push(ack));
    expect(acks.map((x) => (x.ok ? "ok" : x.error.code))).toEqual(["UNKNOWN_EVENT", "ok", "ok", "RATE_LIMITED", "ok"]);
  });

  it("closes once, tells when a user's last device leaves, and drains every connection", async () => {
    const { core, events, sessions } = fakeCore();
    const disconnected: string[] = [];
    const a = await core.open({ token: "alice", emit: noop, disconnect: () => disconnected.push("a") });
    await core.open({ token: "alice", emit: noop, disconnect: () => disconnected.push("b") });
    a.close();
    a.close();
    expect(events.filter((e) => e.startsWith("last device"))).toEqual([]);
    await core.drain();
    expect(disconnected).toEqual(["b"]);
    expect(sessions.size).toBe(0);
    expect(core.size).toBe(0);
    expect(events).toEqual(["online alice", "online alice", "offline alice", "last device of alice left", "offline alice"]);
  });

  it("asks every device to reconnect, saying why, and forgets their sessions", async () => {
    const { core, sessions } = fakeCore();
    const reasons: string[] = [];
    await core.open({ token: "alice", emit: noop, disconnect: (reason) => reasons.push(reason) });
    await core.open({ token: "bob", emit: noop, disconnect: (reason) => reasons.push(reason) });
    expect(core.reconnectAll()).toBe(2);
    expect(reasons).toEqual([expect.stringMatching(/reconnect and resume/), expect.stringMatching(/reconnect and resume/)]);
    expect(sessions.size).toBe(0);
    expect(core.size).toBe(0);
  });
});
