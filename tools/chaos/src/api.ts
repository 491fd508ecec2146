import type { StoredMessage } from "@chat/shared/contracts";

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** A non-2xx answer: its status and the `error.code` of the body, if any. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

const REQUEST_TIMEOUT_MS = 10_000;

/** The password of every seeded chaos user. */
export const SEED_PASSWORD = "chaos-password";

async function request<T>(url: URL, init: { method: string; headers: Record<string, string>; body?: unknown }): Promise<T> {
  const res = await fetch(url, {
    method: init.method,
    headers: { ...(init.body === undefined ? {} : { "content-type": "application/json" }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) {
    let code = `HTTP_${res.status}`;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? code;
    } catch {
      // not JSON: keep the status as the code
    }
    throw new HttpError(res.status, code, `${init.method} ${url.pathname}: ${res.status} ${text.slice(0, 200)}`);
  }
  return JSON.parse(text) as T;
}

/** `POST /api/conversations`: the direct conversation of two users (idempotent per pair). */
export async function createDirectConversation(gateway: string, accessToken: string, otherUserId: string, ip: string): Promise<{ id: string; lastSeq: number }> {
  const body = await request<{ conversation: { id: string; lastSeq: number } }>(new URL("/api/conversations", gateway), {
    method: "POST",
    headers: { authorization: `Bearer ${accessToken}`, "x-forwarded-for": ip },
    body: { participantIds: [otherUserId] },
  });
  return body.conversation;
}

/** `POST /api/auth/refresh`: a new token pair (the old refresh token is spent). */
export function refreshSession(gateway: string, refreshToken: string, ip: string): Promise<TokenPair> {
  return request<TokenPair>(new URL("/api/auth/refresh", gateway), { method: "POST", headers: { "x-forwarded-for": ip }, body: { refreshToken } });
}

/** `POST /api/auth/login` with a username and password: a new session. */
export function login(gateway: string, username: string, password: string, ip: string): Promise<TokenPair> {
  return request<TokenPair>(new URL("/api/auth/login", gateway), { method: "POST", headers: { "x-forwarded-for": ip }, body: { login: username, password } });
}

/** One page of a conversation's history after a seq. */
export function historyAfter(gateway: string, accessToken: string, conversationId: string, afterSeq: number, ip: string): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
  const url = new URL(`/api/conversations/${encodeURIComponent(conversationId)}/messages`, gateway);
  url.searchParams.set("afterSeq", String(afterSeq));
  url.searchParams.set("limit", "200");
  return request(url, { method: "GET", headers: { authorization: `Bearer ${accessToken}`, "x-forwarded-for": ip } });
}
