import bcrypt from "bcrypt";
import { Router } from "express";
import { validate } from "@chat/shared";
import { activeUsersRoute, seedUsersRoute, usersExistRoute, type z } from "@chat/shared/contracts";
import type { TokenService } from "../tokens/token-service.ts";
import type { UserStore } from "../users/user-store.ts";

/** Service-to-service routes (contracts: shared/src/contracts/internal/users.ts); the gateway never proxies `/internal`. */
export function createInternalRoutes({ users, tokens, bcryptCost }: { users: UserStore; tokens: TokenService; bcryptCost: number }): Router {
  const router = Router();

  router.post("/users/seed", async (req, res) => {
    const { prefix, from, count, password, sessions: withSessions } = validate(seedUsersRoute.body, req.body);
    const passwordHash = await bcrypt.hash(password, bcryptCost);
    const seeded = await users.seed(
      Array.from({ length: count }, (_, i) => `${prefix}${from + i}`),
      passwordHash,
    );
    if (!withSessions) {
      res.json({ users: seeded.map((u) => ({ id: u._id, username: u.username })) });
      return;
    }
    const meta = { userAgent: "loadtest-seed", ip: req.ip ?? "" };
    const sessions = await Promise.all(
      seeded.map(async (u) => ({ id: u._id, username: u.username, ...(await tokens.startSession({ id: u._id, username: u.username }, meta)) })),
    );
    res.json({ users: sessions });
  });
  router.get("/users/active", async (req, res) => {
    const { limit, cursor } = validate(activeUsersRoute.query, req.query, "query");
    const body: z.input<typeof activeUsersRoute.response> = await users.activeIds(limit, cursor);
    res.json(body);
  });
  router.post("/users/exist", async (req, res) => {
    const { ids } = validate(usersExistRoute.body, req.body);
    const found = new Set(await users.existingIds(ids));
    const body: z.input<typeof usersExistRoute.response> = { missing: ids.filter((id) => !found.has(id)) };
    res.json(body);
  });
  return router;
}
