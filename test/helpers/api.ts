import { randomBytes } from "node:crypto";
import { uniqueName } from "../../shared/src/testing/index.ts";

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** A fake client address per test user, so per-IP rate limits do not couple unrelated tests. */
export const randomIp = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;

export interface CallOptions {
  token?: string;
  ip?: string;
  headers?: Record<string, string>;
  /** Raw body string (for malformed JSON tests); otherwise `body` is JSON-encoded. */
  raw?: string;
}

/** One REST call against a gateway; never throws on HTTP errors. */
export async function call<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  headers["x-forwarded-for"] = options.ip ?? randomIp();
  let payload: string | undefined;
  if (options.raw !== undefined) payload = options.raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers["content-type"] ??= "application/json";
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON; keep text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export interface TestUser {
  id: string;
  username: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  ip: string;
}

/** Registers a fresh user through a gateway. */
export async function registerUser(baseUrl: string, prefix = "u"): Promise<TestUser> {
  const username = uniqueName(prefix).replace(/-/g, "_").slice(0, 32);
  const email = `${username}@example.com`;
  const password = "correct horse battery";
  const ip = randomIp();
  const res = await call<{ user: { id: string }; accessToken: string; refreshToken: string }>(
    baseUrl,
    "POST",
    "/api/auth/register",
    { username, email, password },
    { ip },
  );
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.user.id, username, email, password, accessToken: res.body.accessToken, refreshToken: res.body.refreshToken, ip };
}
