import { createInternalClient } from "@chat/shared";
import { activeUsersRoute } from "@chat/shared/contracts";

/** Every active user's id: the people the planner pairs. */
export type ActiveUserIds = () => Promise<string[]>;

/** The auth service's directory, read page by page (`GET /internal/users/active`); auth owns `users`. */
export function activeUsersFromAuth({ baseUrl, internalToken, pageTimeoutMs = 10_000 }: { baseUrl: string; internalToken: string; pageTimeoutMs?: number }): ActiveUserIds {
  const auth = createInternalClient({ service: "Auth service", baseUrl, internalToken, timeoutMs: pageTimeoutMs });
  return async () => {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await auth.call(activeUsersRoute, { query: { cursor } });
      ids.push(...page.ids);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return ids;
  };
}
