// The web client: plain TypeScript on the public contract (REST + Socket.IO), bundled by the
// gateway with esbuild. State lives in a few maps; the DOM is re-rendered per change.
import { io, type Socket } from "socket.io-client";
import type { Ack, ClientToServerEvents, Conversation, MessageChange, ResumeResult, ServerToClientEvents, StoredMessage } from "../../../shared/src/contracts/index.ts";

type Session = { accessToken: string; refreshToken: string; user: { id: string; username: string } };
type Shown = StoredMessage & { state: "sending" | "sent" | "delivered" | "failed" };
/** A history page: messages in their current state, and the edits and deletes that took a seq in it. */
type Page = { messages: StoredMessage[]; changes: MessageChange[]; hasMore: boolean };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = (tag: string, cls = "", text = "") => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
};

let session: Session | null = JSON.parse(localStorage.getItem("chat.session") ?? "null") as Session | null;
let socket: Socket<ServerToClientEvents, ClientToServerEvents> | undefined;
const usernames = new Map<string, string>();
const online = new Set<string>();
const conversations = new Map<string, Conversation>();
const messages = new Map<string, Map<string, Shown>>(); // conversationId -> messageId -> message
// conversationId -> the highest seq up to which every message was seen (what a resume asks
// from; never the highest seq seen, which would skip a gap for good) and the seqs seen above it.
const seen = new Map<string, { mark: number; above: Set<number> }>();
const readUpTo = new Map<string, number>(); // conversationId -> highest seq read by someone else
const typingUsers = new Map<string, Map<string, number>>(); // conversationId -> userId -> until
let current: string | undefined;
let typingSent = 0;

/** Starts tracking a conversation known up to `mark`; a tracked one keeps its mark (raising it could skip a gap). */
function track(conversationId: string, mark: number): void {
  if (!seen.has(conversationId)) seen.set(conversationId, { mark, above: new Set() });
}

/** Records a seen seq; the mark moves only when the next seq arrives (seqs go 1, 2, 3… per conversation). */
function observe(conversationId: string, seq: number): void {
  let s = seen.get(conversationId);
  if (!s) seen.set(conversationId, (s = { mark: seq - 1, above: new Set() }));
  if (seq <= s.mark) return;
  s.above.add(seq);
  while (s.above.delete(s.mark + 1)) s.mark++;
}

const marks = (): Record<string, number> => Object.fromEntries([...seen].map(([id, s]) => [id, s.mark]));

async function api<T>(method: string, path: string, body?: unknown, retry = true): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { "content-type": "application/json", ...(session ? { authorization: `Bearer ${session.accessToken}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401 && retry && session && path !== "/api/auth/refresh" && (await refresh())) return api(method, path, body, false);
  const data = res.status === 204 ? {} : await res.json();
  if (!res.ok) throw new Error((data as { error?: { message?: string } }).error?.message ?? `HTTP ${res.status}`);
  return data as T;
}

async function refresh(): Promise<boolean> {
  if (!session) return false;
  try {
    const pair = await api<{ accessToken: string; refreshToken: string }>("POST", "/api/auth/refresh", { refreshToken: session.refreshToken }, false);
    session = { ...session, ...pair };
    localStorage.setItem("chat.session", JSON.stringify(session));
    return true;
  } catch {
    logout();
    return false;
  }
}

function logout(): void {
  localStorage.removeItem("chat.session");
  session = null;
  socket?.close();
  $("app").hidden = true;
  $("login").hidden = false;
}

async function authenticate(register: boolean): Promise<void> {
  const login = $<HTMLInputElement>("login-name").value.trim();
  const password = $<HTMLInputElement>("login-password").value;
  const email = $<HTMLInputElement>("login-email").value.trim();
  $("login-error").textContent = "";
  try {
    session = register
      ? await api<Session>("POST", "/api/auth/register", { username: login, email, password })
      : await api<Session>("POST", "/api/auth/login", { login, password });
    localStorage.setItem("chat.session", JSON.stringify(session));
    await start();
  } catch (err) {
    $("login-error").textContent = (err as Error).message;
  }
}

async function loadUsers(): Promise<void> {
  let cursor: string | null = null;
  do {
    const page: { users: Array<{ id: string; username: string; online: boolean }>; nextCursor: string | null } = await api(
      "GET",
      `/api/user/list?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    for (const u of page.users) {
      usernames.set(u.id, u.username);
      if (u.online) online.add(u.id);
    }
    cursor = page.nextCursor;
  } while (cursor);
}

const nameOf = (id: string) => usernames.get(id) ?? id.slice(0, 8);
const titleOf = (c: Conversation) => c.title ?? c.participantIds.filter((p) => p !== session?.user.id).map(nameOf).join(", ");

async function loadConversations(): Promise<void> {
  const { conversations: list } = await api<{ conversations: Conversation[] }>("GET", "/api/conversations");
  for (const c of list) {
    conversations.set(c.id, c);
    track(c.id, c.lastSeq);
  }
  renderConversations();
}

function renderConversations(): void {
  const ul = $("conversations");
  ul.replaceChildren();
  const sorted = [...conversations.values()].sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt));
  for (const c of sorted) {
    const li = el("li", c.id === current ? "active" : "");
    li.dataset.id = c.id;
    const others = c.participantIds.filter((p) => p !== session?.user.id);
    li.append(el("span", `dot${others.some((o) => online.has(o)) ? " online" : ""}`), el("span", "name", titleOf(c)));
    if (c.unreadCount > 0 && c.id !== current) li.append(el("span", "unread", String(c.unreadCount)));
    li.onclick = () => void open(c.id);
    ul.append(li);
  }
}

function store(m: StoredMessage, state: Shown["state"] = "delivered"): void {
  let map = messages.get(m.conversationId);
  if (!map) messages.set(m.conversationId, (map = new Map()));
  const prev = map.get(m.messageId);
  map.set(m.messageId, { ...m, state: prev?.state === "delivered" ? "delivered" : state });
}

function renderMessages(): void {
  const list = $("message-list");
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  list.replaceChildren();
  if (!current) return;
  const read = readUpTo.get(current) ?? 0;
  const shown = [...(messages.get(current)?.values() ?? [])].sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity));
  for (const m of shown) {
    const mine = m.senderId === session?.user.id;
    const li = el("li", mine ? "mine" : "");
    li.dataset.seq = String(m.seq);
    li.append(el("div", "who", nameOf(m.senderId)));
    if (m.deletedAt) li.append(el("span", "text deleted", "message deleted"));
    else li.append(el("span", "text", m.content));
    if (m.editedAt && !m.deletedAt) li.append(el("span", "state", "edited"));
    if (mine) li.append(el("span", "state", m.state === "delivered" && m.seq <= read ? "read" : m.state));
    if (mine && m.state === "delivered" && !m.deletedAt) {
      const edit = el("button", "link", "edit");
      edit.onclick = () => {
        const content = prompt("Edit message", m.content);
        if (content !== null && content.trim() && content !== m.content) changeMessage("edit_message", { conversationId: m.conversationId, messageId: m.messageId, content });
      };
      const del = el("button", "link", "delete");
      del.onclick = () => {
        if (confirm("Delete this message for everyone?")) changeMessage("delete_message", { conversationId: m.conversationId, messageId: m.messageId });
      };
      li.append(edit, del);
    }
    list.append(li);
  }
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function renderTyping(): void {
  const now = Date.now();
  const who = [...(typingUsers.get(current ?? "")?.entries() ?? [])].filter(([, until]) => until > now).map(([id]) => nameOf(id));
  $("typing").textContent = who.length ? `${who.join(", ")} ${who.length > 1 ? "are" : "is"} typing…` : "";
}

async function open(id: string): Promise<void> {
  current = id;
  const c = conversations.get(id);
  if (!c) return;
  $("chat-title").textContent = titleOf(c);
  $<HTMLInputElement>("send-text").disabled = false;
  $<HTMLButtonElement>("send-button").disabled = false;
  socket?.emit("join_room", { conversationId: id }, () => undefined);
  if (!messages.get(id)?.size) {
    const page = await api<Page>("GET", `/api/conversations/${id}/messages?limit=50`);
    for (const m of page.messages) {
      store(m);
      observe(m.conversationId, m.seq);
    }
    for (const change of page.changes) observe(change.conversationId, change.seq);
    $("older").hidden = !page.hasMore;
  }
  markRead();
  renderConversations();
  renderMessages();
  renderTyping();
}

async function loadOlder(): Promise<void> {
  if (!current) return;
  const oldest = Math.min(...[...(messages.get(current)?.values() ?? [])].map((m) => m.seq).filter(Boolean));
  const page = await api<Page>("GET", `/api/conversations/${current}/messages?limit=50&beforeSeq=${oldest}`);
  for (const m of page.messages) store(m);
  $("older").hidden = !page.hasMore;
  renderMessages();
}

function markRead(): void {
  const c = current ? conversations.get(current) : undefined;
  if (!c || !socket) return;
  const top = Math.max(0, ...[...(messages.get(c.id)?.values() ?? [])].map((m) => m.seq));
  if (top > c.lastReadSeq) {
    socket.emit("mark_read", { conversationId: c.id, seq: top }, () => undefined);
    c.lastReadSeq = top;
  }
  c.unreadCount = 0;
}

function send(content: string): void {
  if (!current || !socket || !session) return;
  const clientMsgId = crypto.randomUUID();
  const draft: Shown = {
    messageId: `pending-${clientMsgId}`,
    clientMsgId,
    conversationId: current,
    senderId: session.user.id,
    content,
    kind: "user",
    seq: 0,
    sentAt: new Date().toISOString(),
    createdAt: new Date().toISOString(),
    state: "sending",
  };
  const conv = current;
  if (!messages.has(conv)) messages.set(conv, new Map());
  messages.get(conv)!.set(draft.messageId, draft);
  renderMessages();
  socket.timeout(15_000).emit("send_message", { conversationId: conv, content, clientMsgId }, (err: Error | null, ack: Ack<{ messageId: string }>) => {
    const map = messages.get(conv)!;
    map.delete(draft.messageId);
    if (!err && ack.ok) {
      if (!map.has(ack.messageId)) map.set(ack.messageId, { ...draft, messageId: ack.messageId, state: "sent" });
    } else map.set(draft.messageId, { ...draft, state: "failed" });
    renderMessages();
  });
  typingSent = 0;
  socket.emit("typing", { conversationId: conv, isTyping: false }, () => undefined);
}

/** Asks for an edit or a delete; its result arrives like anyone else's, as message_edited / message_deleted. */
function changeMessage(event: "edit_message" | "delete_message", payload: { conversationId: string; messageId: string; content?: string }): void {
  socket?.timeout(15_000).emit(event as "edit_message", payload as { conversationId: string; messageId: string; content: string }, (err: Error | null, ack: Ack) => {
    if (err || !ack.ok) setStatus("online", `could not ${event === "edit_message" ? "edit" : "delete"}: ${err ? "no answer" : ack.ok ? "" : ack.error.message}`);
  });
}

/** An edit or delete (live, replayed, or from a history page): the message shows its new state. */
function applyChange(change: MessageChange): void {
  observe(change.conversationId, change.seq);
  const shown = messages.get(change.conversationId)?.get(change.messageId);
  const update = change.type === "edited" ? { content: change.content, editedAt: change.editedAt } : { content: "", deletedAt: change.deletedAt };
  // A delete is final: an older edit replayed after it changes nothing.
  if (shown && !shown.deletedAt) Object.assign(shown, update);
  const c = conversations.get(change.conversationId);
  if (c?.lastMessage?.messageId === change.messageId) Object.assign(c.lastMessage, update);
  if (c) c.lastSeq = Math.max(c.lastSeq, change.seq);
  if (change.conversationId === current) renderMessages();
}

function receive(message: StoredMessage): void {
  // A replay or a history page may repeat a message already shown: it changes nothing.
  const again = messages.get(message.conversationId)?.get(message.messageId)?.state === "delivered";
  store(message);
  observe(message.conversationId, message.seq);
  if (again) return;
  const c = conversations.get(message.conversationId);
  if (!c) {
    void loadConversations();
    return;
  }
  c.lastMessage = { messageId: message.messageId, senderId: message.senderId, content: message.content, seq: message.seq, sentAt: message.sentAt };
  c.lastSeq = Math.max(c.lastSeq, message.seq);
  c.lastActivityAt = message.createdAt;
  if (message.conversationId === current) markRead();
  else if (message.senderId !== session?.user.id) c.unreadCount++;
  typingUsers.get(message.conversationId)?.delete(message.senderId);
  renderConversations();
  renderMessages();
  renderTyping();
}

// Catching up after a (re)connection. A resume the gateway could not complete (message
// service away) leaves it holding the live messages of those conversations until a later
// resume succeeds: so a failed one is sent again, with the current marks, after a backoff
// (1 s doubling to 10 s, with jitter) until one does. Codes that retrying cannot fix are not
// retried for their conversation; the answer does not say which one, so the resume is then
// split into one conversation per request and a single one failing that way is dropped.
const RESUME_TIMEOUT_MS = 30_000; // the gateway retries a resume's reads for up to 20 s
const FINAL_CODES = new Set(["NOT_A_MEMBER", "FORBIDDEN", "NOT_FOUND", "VALIDATION_FAILED", "SCHEMA_INVALID", "MALFORMED_FRAME", "MALFORMED_JSON", "PAYLOAD_TOO_LARGE", "UNKNOWN_EVENT", "UNAUTHORIZED", "TOKEN_MISSING", "TOKEN_INVALID", "TOKEN_EXPIRED", "TOKEN_REVOKED"]);
const retriable = (code: string) => !FINAL_CODES.has(code) && !code.endsWith("_NOT_FOUND");
const retryDelay = (attempt: number) => Math.round(Math.min(10_000, 1000 * 2 ** attempt) * (1 - 0.25 * Math.random()));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const failed = (code: string): ResumeResult => ({ replayed: 0, truncated: [], error: { code, message: code } });

let connection = 0; // bumped per (re)connection: a catch-up of an older one stops
let asked: Record<string, number> | undefined; // what the latest handshake resumed
let awaitResumed: ((result: ResumeResult) => void) | undefined;
let refusals = 0;

function setStatus(text: string, detail = ""): void {
  $("connection").textContent = text;
  $("connection").title = detail;
}

async function catchUp(resume: Record<string, number>, id: number): Promise<void> {
  const live = () => id === connection && socket?.connected === true;
  const pending = new Set(Object.keys(resume));
  let split = false;
  let failures = 0;
  let request = resume;
  let answer = await new Promise<ResumeResult>((resolve) => {
    const timer = setTimeout(() => resolve(failed("RESUME_TIMEOUT")), RESUME_TIMEOUT_MS);
    awaitResumed = (result) => {
      clearTimeout(timer);
      awaitResumed = undefined;
      resolve(result);
    };
  });
  for (;;) {
    if (!live()) return;
    const ids = Object.keys(request);
    const code = answer.error?.code;
    if (code === undefined) {
      for (const c of ids) pending.delete(c);
      failures = 0;
      for (const c of answer.truncated) void pageMissed(c, id);
    } else if (retriable(code)) {
      setStatus("catching up…", `the last attempt failed (${code}); retrying`);
      await sleep(retryDelay(failures++));
      if (!live()) return;
    } else if (ids.length > 1) split = true;
    else if (ids[0] !== undefined) {
      pending.delete(ids[0]);
      seen.delete(ids[0]);
    }
    const now = marks();
    const next = [...pending].filter((c) => now[c] !== undefined);
    if (next.length === 0) break;
    request = Object.fromEntries((split ? next.slice(0, 1) : next).map((c) => [c, now[c]!]));
    answer = await socket!
      .timeout(RESUME_TIMEOUT_MS)
      .emitWithAck("resume", { conversations: request })
      .then(
        (ack): ResumeResult => (ack.ok ? ack : failed(ack.error.code)),
        () => failed("ACK_TIMEOUT"),
      );
  }
  if (live()) setStatus("online");
}

/** What a resume left out (more than it replays per conversation), paged through REST. */
async function pageMissed(conversationId: string, id: number): Promise<void> {
  let after = seen.get(conversationId)?.mark ?? 0;
  for (let failures = 0; id === connection; ) {
    try {
      const page = await api<Page>("GET", `/api/conversations/${conversationId}/messages?afterSeq=${after}&limit=200`);
      for (const m of page.messages) receive(m);
      for (const change of page.changes) applyChange(change);
      const last = Math.max(after, ...page.messages.map((m) => m.seq), ...page.changes.map((c) => c.seq));
      if (!page.hasMore || last <= after) return;
      after = last;
      failures = 0;
    } catch {
      await sleep(retryDelay(failures++));
    }
  }
}

/** socket.io reconnects by itself after a lost transport, not after the gateway refused or closed the connection. */
function reconnectLater(): void {
  setTimeout(() => session && socket && !socket.connected && socket.connect(), retryDelay(refusals++));
}

function connect(): void {
  if (!session) return;
  socket = io({
    transports: ["websocket"],
    // Called on every (re)connection: the resume carries what this page has seen without a gap.
    auth: (cb) => {
      const m = marks();
      asked = Object.keys(m).length > 0 ? m : undefined;
      cb(asked ? { token: session?.accessToken, resume: asked } : { token: session?.accessToken });
    },
  });
  socket.on("connect", () => {
    setStatus("online");
    refusals = 0;
    const id = ++connection;
    if (asked) void catchUp(asked, id);
  });
  socket.on("resumed", (result) => awaitResumed?.(result));
  socket.on("disconnect", (reason) => {
    setStatus("reconnecting…");
    if (reason === "io server disconnect" && session) reconnectLater();
  });
  socket.on("connect_error", (err) => {
    setStatus("offline");
    const code = (err as Error & { data?: { code?: string } }).data?.code;
    if (code?.startsWith("TOKEN_")) void refresh().then((ok) => ok && socket?.connect());
    else if (socket && !socket.active && session) reconnectLater();
  });
  socket.on("message_received", ({ message }) => receive(message));
  socket.on("message_edited", applyChange);
  socket.on("message_deleted", applyChange);
  socket.on("message_read", ({ conversationId, userId, seq }) => {
    if (userId === session?.user.id) return;
    readUpTo.set(conversationId, Math.max(readUpTo.get(conversationId) ?? 0, seq));
    if (conversationId === current) renderMessages();
  });
  socket.on("typing", ({ conversationId, userId, isTyping }) => {
    let map = typingUsers.get(conversationId);
    if (!map) typingUsers.set(conversationId, (map = new Map()));
    if (isTyping) map.set(userId, Date.now() + 6000);
    else map.delete(userId);
    renderTyping();
  });
  socket.on("user_online", ({ userId }) => {
    online.add(userId);
    renderConversations();
  });
  socket.on("user_offline", ({ userId }) => {
    online.delete(userId);
    renderConversations();
  });
}

async function start(): Promise<void> {
  if (!session) return;
  $("login").hidden = true;
  $("app").hidden = false;
  $("me").textContent = session.user.username;
  try {
    await loadUsers();
    await loadConversations();
  } catch {
    logout();
    return;
  }
  connect();
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void authenticate(false);
});
$("register-button").addEventListener("click", () => void authenticate(true));
$("new-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void (async () => {
    const names = $<HTMLInputElement>("new-users").value.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
    await loadUsers();
    const ids = names.map((n) => [...usernames].find(([, u]) => u.toLowerCase() === n)?.[0]).filter((x): x is string => Boolean(x));
    if (ids.length !== names.length) return alert("Unknown username");
    const title = $<HTMLInputElement>("new-title").value.trim();
    const { conversation } = await api<{ conversation: Conversation }>("POST", "/api/conversations", { participantIds: ids, ...(title ? { title } : {}) });
    conversations.set(conversation.id, conversation);
    track(conversation.id, conversation.lastSeq);
    $<HTMLInputElement>("new-users").value = "";
    $<HTMLInputElement>("new-title").value = "";
    await open(conversation.id);
  })();
});
$("send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("send-text");
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  send(text);
});
$("send-text").addEventListener("input", () => {
  if (!current || !socket || Date.now() - typingSent < 3000) return;
  typingSent = Date.now();
  socket.emit("typing", { conversationId: current, isTyping: true }, () => undefined);
});
$("older").addEventListener("click", () => void loadOlder());
setInterval(renderTyping, 1000);
void start();
