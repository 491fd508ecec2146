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

/** `POST /internal/users/seed` for [from, from + count), `batch` users per request (one bcrypt hash each). */
async function seedPages<T>(authUrl: string, internalToken: string, { prefix, count, from = 0, password }: SeedOptions, sessions: boolean, batch: number): Promise<T[]> {
  const users: T[] = [];
  for (let offset = 0; offset < count; offset += batch) {
    const res = await fetch(new URL("/internal/users/seed", authUrl), {
      method: "POST",
      headers: { "content-type": "application/json", "x-internal-token": internalToken },
      body: JSON.stringify({ prefix, from: from + offset, count: Math.min(batch, count - offset), password, sessions }),
      signal: AbortSignal.timeout(60_000),
    });
    if (!res.ok) throw new Error(`seeding failed: ${res.status} ${(await res.text()).slice(0, 200)}`);
    users.push(...((await res.json()) as { users: T[] }).users);
  }
  return users;
}

/**
 * Users `<prefix><from>`..`<prefix><from+count-1>`, created when missing, each with a new
 * session, 1000 per request to `POST /internal/users/seed` (one bcrypt hash for all).
 */
export function seedUsers(authUrl: string, internalToken: string, options: SeedOptions): Promise<SeededUser[]> {
  return seedPages<SeededUser>(authUrl, internalToken, options, true, 1000);
}

/** The same users without sessions (ids only), 5000 per request: bulk seeding for benchmarks. */
export function seedUserIds(authUrl: string, internalToken: string, options: SeedOptions): Promise<Array<{ id: string; username: string }>> {
  return seedPages(authUrl, internalToken, options, false, 5000);
}
