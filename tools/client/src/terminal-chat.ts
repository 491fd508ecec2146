import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { pageSequence, type ClientEventName, type ClientPayload, type MessageChange, type StoredMessage } from "@chat/shared/contracts";
import { ContiguousSeqs, ackOutcome, awaitAnswer, catchUp, pageAfter, resumeOutcome, retryDelay, type ResumeOutcome } from "./catch-up.ts";
import type { ChatLink, Handshake } from "./links/chat-link.ts";
import { grpcLink } from "./links/grpc-link.ts";
import { socketIoLink } from "./links/socket-io-link.ts";

export interface TerminalChatOptions {
  /** The gateway's HTTP URL: login, REST and (without `grpc`) Socket.IO. */
  gateway: string;
  /** Chat over gRPC at this host:port instead of Socket.IO. */
  grpc?: string;
  user: string;
  password: string;
  input: Readable;
  output: Writable;
  /** Send typing signals on keypresses (only meaningful on a TTY). @default false */
  keypressTyping?: boolean;
}

interface Conversation {
  id: string;
  type: "direct" | "group";
  title: string | null;
  participantIds: string[];
  unreadCount: number;
  lastSeq: number;
  lastMessage: { content: string; senderId: string } | null;
}

/** A resume's reads are retried by the gateway for up to 20 s before it answers: wait longer than that. */
const RESUME_TIMEOUT_MS = 30_000;
const TOKEN_CODES = new Set(["TOKEN_EXPIRED", "TOKEN_INVALID", "TOKEN_REVOKED"]);

const HELP = `commands: /list  /open <username|number>  /history  /who  /help  /quit  — anything else is sent to the open conversation`;

/**
 * The terminal client: logs in (or registers), lists conversations, opens one by number or
 * username, shows live messages, typing and presence, sends what you type. Everything goes
 * through the public contract of one gateway. Resolves when the user types /quit.
 */
export async function runTerminalChat(o: TerminalChatOptions): Promise<void> {
  const print = (line: string) => o.output.write(`${line}\n`);
  const api = async <T>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${o.gateway}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  };

  type AuthBody = { user: { id: string; username: string }; accessToken: string; error?: { message: string } };
  let auth = await api<AuthBody>("POST", "/api/auth/login", { login: o.user, password: o.password });
  if (auth.status === 401) {
    auth = await api<AuthBody>("POST", "/api/auth/register", { username: o.user, email: `${o.user.toLowerCase()}@example.com`, password: o.password });
    if (auth.status === 201) print(`registered as ${o.user}`);
  }
  if (auth.status !== 200 && auth.status !== 201) throw new Error(`cannot log in: ${auth.body.error?.message ?? auth.status}`);
  let token = auth.body.accessToken;
  const me = auth.body.user;
  print(`logged in as ${me.username} on ${o.gateway}${o.grpc ? ` (chat over gRPC at ${o.grpc})` : ""}`);

  const names = new Map<string, string>([[me.id, me.username]]);
  async function nameOf(id: string): Promise<string> {
    if (!names.has(id)) await loadUsers();
    return names.get(id) ?? id.slice(0, 8);
  }
  async function loadUsers(): Promise<void> {
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const res: { body: { users: Array<{ id: string; username: string }>; nextCursor: string | null } } = await api(
        "GET",
        `/api/user/list?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        undefined,
        token,
      );
      for (const u of res.body.users ?? []) names.set(u.id, u.username);
      cursor = res.body.nextCursor;
      if (!cursor) return;
    }
  }

  let conversations: Conversation[] = [];
  let current: Conversation | undefined;
  /** What has been seen of each conversation without a gap: what a resume asks from. */
  const seqs = new ContiguousSeqs();
  const shown = new Set<string>();

  async function label(c: Conversation): Promise<string> {
    if (c.title) return c.title;
    const others = await Promise.all(c.participantIds.filter((p) => p !== me.id).map(nameOf));
    return others.join(", ");
  }
  async function list(): Promise<void> {
    conversations = (await api<{ conversations: Conversation[] }>("GET", "/api/conversations", undefined, token)).body.conversations;
    for (const c of conversations) seqs.track(c.id, c.lastSeq);
    if (conversations.length === 0) print("no conversations yet: /open <username> starts one");
    for (const [i, c] of conversations.entries()) {
      const unread = c.unreadCount > 0 ? ` (${c.unreadCount} unread)` : "";
      const last = c.lastMessage ? ` — ${await nameOf(c.lastMessage.senderId)}: ${c.lastMessage.content}` : "";
      print(`${i + 1}) ${await label(c)}${unread}${last}`);
    }
  }
  /** `[conversation] ` before a line of a conversation other than the open one. */
  async function whereOf(conversationId: string): Promise<string> {
    if (current?.id === conversationId) return "";
    return `[${await label(conversations.find((c) => c.id === conversationId) ?? ({ title: "new", participantIds: [] } as unknown as Conversation))}] `;
  }
  async function show(m: StoredMessage): Promise<void> {
    seqs.observe(m.conversationId, m.seq);
    if (shown.has(m.messageId)) return;
    shown.add(m.messageId);
    const text = m.deletedAt ? "(message deleted)" : m.editedAt ? `${m.content} (edited)` : m.content;
    print(`${await whereOf(m.conversationId)}${await nameOf(m.senderId)}: ${text}`);
    if (current?.id === m.conversationId && m.senderId !== me.id) void fireAndForget("mark_read", { conversationId: m.conversationId, seq: m.seq });
  }
  /** An edit or a delete: it has its own seq, seen like a message's. */
  async function showChange(c: MessageChange): Promise<void> {
    seqs.observe(c.conversationId, c.seq);
    const key = `${c.conversationId}#${c.seq}`;
    if (shown.has(key)) return;
    shown.add(key);
    const who = `${await whereOf(c.conversationId)}${await nameOf(c.actorId)}`;
    print(c.type === "edited" ? `✎ ${who} edited a message: ${c.content}` : `✗ ${who} deleted a message`);
  }
  const showEntry = (e: StoredMessage | MessageChange) => ("type" in e ? showChange(e) : show(e));
  async function history(): Promise<void> {
    if (!current) {
      print("no conversation open");
      return;
    }
    const res = await api<{ messages: StoredMessage[] }>("GET", `/api/conversations/${current.id}/messages?limit=20`, undefined, token);
    for (const m of res.body.messages) await show(m);
  }
  async function open(arg: string): Promise<void> {
    await list();
    const n = Number(arg);
    let target = Number.isInteger(n) && n >= 1 ? conversations[n - 1] : undefined;
    if (!target) {
      await loadUsers();
      const id = [...names].find(([, u]) => u.toLowerCase() === arg.toLowerCase())?.[0];
      if (!id) {
        print(`no user or conversation "${arg}"`);
        return;
      }
      const res = await api<{ conversation: Conversation; error?: { message: string } }>("POST", "/api/conversations", { participantIds: [id] }, token);
      if (res.status >= 400) {
        print(`cannot open: ${res.body.error?.message}`);
        return;
      }
      target = res.body.conversation;
      conversations.push(target);
      seqs.track(target.id, target.lastSeq);
    }
    current = target;
    void fireAndForget("join_room", { conversationId: target.id });
    print(`-- ${await label(target)} --`);
    await history();
  }

  /** The resume the latest handshake carried (none while nothing is tracked). */
  let asked: Record<string, number> | undefined;
  /** Aborted when the current connection ends: its catch-up stops, the next one starts its own. */
  let connection = new AbortController();
  let awaitResumed: ((outcome: ResumeOutcome) => void) | undefined;
  let everConnected = false;
  let closing = false;
  let refusals = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;

  // Called on every (re)connection: the handshake resumes from what was seen without a gap.
  const handshake: Handshake = () => {
    const marks = seqs.marks();
    asked = Object.keys(marks).length > 0 ? marks : undefined;
    return asked ? { token, resume: asked } : { token };
  };
  const socket: ChatLink = o.grpc ? grpcLink(o.grpc, handshake) : socketIoLink(o.gateway, handshake);
  /** Events whose ack nobody waits for. */
  const fireAndForget = <E extends ClientEventName>(event: E, payload: ClientPayload<E>): Promise<unknown> =>
    socket.request(event, payload, 10_000).catch(() => undefined);

  /** socket.io reconnects by itself after a lost transport, not after the gateway refused or closed the connection. */
  function reconnectLater(): void {
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(() => {
      if (!closing && !socket.connected) socket.connect();
    }, retryDelay(refusals++));
  }

  async function logInAgain(): Promise<void> {
    const res = await api<AuthBody>("POST", "/api/auth/login", { login: o.user, password: o.password }).catch(() => undefined);
    if (res?.status === 200) token = res.body.accessToken;
  }

  /** Pages through REST what a resume left out of its replay. */
  async function pageMissed(conversationId: string, signal: AbortSignal): Promise<void> {
    const fetchPage = async (afterSeq: number) => {
      const res = await api<{ messages: StoredMessage[]; changes: MessageChange[]; hasMore: boolean }>(
        "GET",
        `/api/conversations/${encodeURIComponent(conversationId)}/messages?afterSeq=${afterSeq}&limit=200`,
        undefined,
        token,
      );
      if (res.status !== 200) throw new Error(`history: HTTP ${res.status}`);
      // Edits and deletes take seqs of their own: the page is both, in seq order.
      return { messages: pageSequence(res.body), hasMore: res.body.hasMore };
    };
    await pageAfter(seqs.mark(conversationId) ?? 0, fetchPage, showEntry, signal);
  }

  /**
   * After a handshake that resumed `resume`: until every conversation is caught up, a failed
   * resume (the gateway keeps holding their live messages meanwhile) is sent again with backoff.
   */
  async function catchUpOn(resume: Record<string, number>, signal: AbortSignal): Promise<void> {
    const answer = awaitAnswer(RESUME_TIMEOUT_MS, signal);
    awaitResumed = answer.settle;
    let failed = false;
    const result = await catchUp(resume, answer.outcome, {
      signal,
      marks: () => seqs.marks(),
      send: (conversations) => ackOutcome(socket.request("resume", { conversations }, RESUME_TIMEOUT_MS), () => socket.connected),
      onRetry: (code, retryInMs) => {
        if (!failed) print(`! catching up failed (${code}), retrying every few seconds (next in ${Math.ceil(retryInMs / 1000)} s)…`);
        failed = true;
      },
      onDropped: (conversationId, code) => {
        seqs.forget(conversationId);
        const c = conversations.find((x) => x.id === conversationId);
        void (c ? label(c) : Promise.resolve(conversationId)).then((name) => print(`! cannot catch up on ${name} (${code})`));
      },
      onResumed: ({ truncated }) => {
        for (const conversationId of truncated) void pageMissed(conversationId, signal);
      },
    });
    if (result.caughtUp && failed) print(`! caught up (after ${result.retries} ${result.retries === 1 ? "retry" : "retries"})`);
  }

  socket.onConnect(() => {
    connection.abort();
    connection = new AbortController();
    refusals = 0;
    if (everConnected) print("! reconnected");
    everConnected = true;
    if (asked) void catchUpOn(asked, connection.signal);
  });
  socket.on("resumed", (result) => awaitResumed?.(resumeOutcome(result)));
  socket.on("message_received", ({ message }) => void show(message));
  socket.on("message_edited", (change) => void showChange(change));
  socket.on("message_deleted", (change) => void showChange(change));
  socket.on("typing", ({ conversationId, userId, isTyping }) => {
    if (isTyping && conversationId === current?.id) void nameOf(userId).then((n) => print(`… ${n} is typing`));
  });
  socket.on("user_online", ({ userId }) => void nameOf(userId).then((n) => print(`* ${n} is online`)));
  socket.on("user_offline", ({ userId }) => void nameOf(userId).then((n) => print(`* ${n} went offline`)));
  socket.on("message_read", ({ conversationId, userId, seq }) => {
    if (conversationId === current?.id && userId !== me.id) void nameOf(userId).then((n) => print(`✓ ${n} read up to #${seq}`));
  });
  socket.onDisconnect((reason) => {
    connection.abort();
    if (closing) return;
    print(`! disconnected (${reason}), reconnecting…`);
    // A draining gateway closes its sockets itself: those are not reconnected by socket.io.
    if (!socket.retrying) reconnectLater();
  });
  socket.onConnectError((code) => {
    // The first connection reports its failure to the caller; a lost transport is retried by socket.io.
    if (!everConnected || closing || socket.retrying) return;
    print(`! connection refused (${code}), retrying…`);
    if (TOKEN_CODES.has(code)) void logInAgain().finally(reconnectLater);
    else reconnectLater();
  });
  await new Promise<void>((resolve, reject) => {
    socket.onConnect(resolve);
    socket.onConnectError((_code, message) => reject(new Error(message)));
    socket.connect();
  }).catch((err: unknown) => {
    closing = true;
    socket.close();
    throw err;
  });
  await list();
  print(HELP);

  const rl = createInterface({ input: o.input, terminal: false });
  let typing = false;
  if (o.keypressTyping) {
    o.input.on("keypress", () => {
      if (!current || typing) return;
      typing = true;
      void fireAndForget("typing", { conversationId: current.id, isTyping: true });
    });
  }
  let n = 0;
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (!line) continue;
      if (line === "/quit") break;
      if (line === "/help") print(HELP);
      else if (line === "/list") await list();
      else if (line === "/history") await history();
      else if (line === "/who") {
        const online = await api<{ userIds: string[] }>("GET", "/api/user/online", undefined, token);
        print(`online: ${(await Promise.all(online.body.userIds.map(nameOf))).join(", ")}`);
      } else if (line.startsWith("/open ")) await open(line.slice(6).trim());
      else if (line.startsWith("/")) print(`unknown command ${line}; ${HELP}`);
      else if (!current) print("open a conversation first: /open <username|number>");
      else {
        if (typing) void fireAndForget("typing", { conversationId: current.id, isTyping: false });
        typing = false;
        const ack = await socket
          .request("send_message", { conversationId: current.id, content: line, clientMsgId: `cli-${Date.now()}-${n++}` }, 10_000)
          .catch((err: Error) => ({ ok: false as const, error: { code: "NO_ACK", message: err.message } }));
        if (!ack.ok) print(`! not sent: ${ack.error.message}`);
      }
    }
  } finally {
    closing = true;
    clearTimeout(reconnectTimer);
    connection.abort();
    rl.close();
    socket.close();
    print("bye");
  }
}
