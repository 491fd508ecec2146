/** A user seeded through the auth service's internal route, with a fresh session. */
export interface SeededUser {
  id: string;
  username: string;
  accessToken: string;
  refreshToken: string;
  /** Access token lifetime in seconds. */
  expiresIn: number;
}

export interface SeedOptions {
  /** Usernames are `<prefix><n>`: the same prefix reuses the same users. */
  prefix: string;
  count: number;
  /** The first n. @default 0 */
  from?: number;
  password: string;
}

/**
 * Users `<prefix><from>`..`<prefix><from+count-1>`, created when missing, each with a new
 * session, 1000 per request to `POST /internal/users/seed` (one bcrypt hash for all).
 */
export async function seedUsers(authUrl: string, internalToken: string, { prefix, count, from = 0, password }: SeedOptions): Promise<SeededUser[]> {
  const users: SeededUser[] = [];
  for (let offset = 0; offset < count; offset += 1000) {
    const res = await fetch(new URL("/internal/users/seed", authUrl), {
      method: "POST",
      headers: { "content-type": "application/json", "x-internal-token": internalToken },
      body: JSON.stringify({ prefix, from: from + offset, count: Math.min(1000, count - offset), password }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`seeding failed: ${res.status} ${(await res.text()).slice(0, 200)}`);
    users.push(...((await res.json()) as { users: SeededUser[] }).users);
  }
  return users;
}
