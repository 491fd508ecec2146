import { DependencyError, INTERNAL_TOKEN_HEADER } from "@chat/shared";
import { activeUsersResponseSchema } from "@chat/shared/contracts";

/** Every active user's id: the people the planner pairs. */
export type ActiveUserIds = () => Promise<string[]>;

/** The auth service's directory, read page by page (`GET /internal/users/active`); auth owns `users`. */
export function activeUsersFromAuth({ baseUrl, internalToken, pageTimeoutMs = 10_000 }: { baseUrl: string; internalToken: string; pageTimeoutMs?: number }): ActiveUserIds {
  return async () => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const url = new URL("/internal/users/active", baseUrl);
      if (cursor) url.searchParams.set("cursor", cursor);
      let res: Response;
      try {
        res = await fetch(url, { headers: { [INTERNAL_TOKEN_HEADER]: internalToken }, signal: AbortSignal.timeout(pageTimeoutMs) });
      } catch (err) {
        throw new DependencyError("Auth service unreachable", err);
      }
      if (!res.ok) throw new DependencyError(`Auth service answered ${res.status} for active users`);
      const page = activeUsersResponseSchema.safeParse(await res.json());
      if (!page.success) throw new DependencyError("Auth service sent a malformed active-user page");
      ids.push(...page.data.ids);
      cursor = page.data.nextCursor;
    } while (cursor);
    return ids;
  };
}
