import bcrypt from "bcrypt";
import { Router } from "express";
import { validate } from "@chat/shared";
import { activeUsersQuerySchema, idSchema, passwordSchema, z, type ActiveUsersResponse } from "@chat/shared/contracts";
import type { TokenService } from "../tokens/token-service.ts";
import type { UserStore } from "../users/user-store.ts";

const existRequestSchema = z.object({ ids: z.array(idSchema).min(1).max(500) }).strict();

const seedRequestSchema = z
  .object({
    prefix: z.string().regex(/^[a-z0-9_]{1,20}$/, "lowercase letters, digits and '_', up to 20"),
    from: z.number().int().min(0).default(0),
    count: z.number().int().min(1).max(5000),
    password: passwordSchema,
    /** Also start a session per user and return its tokens. @default true */
    sessions: z.boolean().default(true),
  })
  .strict();

/** Service-to-service routes; the gateway never proxies `/internal`. */
export function createInternalRoutes({ users, tokens, bcryptCost }: { users: UserStore; tokens: TokenService; bcryptCost: number }): Router {
  const router = Router();

  /**
   * Load-test seeding: users `<prefix><n>` for n in [from, from+count), created when missing
   * with one bcrypt hash for all (not one per user), each returned with a fresh session.
   */
  router.post("/users/seed", async (req, res) => {
    const { prefix, from, count, password, sessions: withSessions } = validate(seedRequestSchema, req.body);
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
  /** Every active user, a page at a time: what the AutoMessage planner pairs. */
  router.get("/users/active", async (req, res) => {
    const { limit, cursor } = validate(activeUsersQuerySchema, req.query, "query");
    const body: ActiveUsersResponse = await users.activeIds(limit, cursor);
    res.json(body);
  });
  router.post("/users/exist", async (req, res) => {
    const { ids } = validate(existRequestSchema, req.body);
    const found = new Set(await users.existingIds(ids));
    res.json({ missing: ids.filter((id) => !found.has(id)) });
  });
  return router;
}
