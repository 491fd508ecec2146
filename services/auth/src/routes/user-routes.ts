import { Router } from "express";
import type { Redis } from "ioredis";
import { NotFoundError, requireAuth, validate, type RedisKeys, type TokenVerifier } from "@chat/shared";
import { userIdParamsSchema, userListQuerySchema } from "@chat/shared/contracts";
import { toPublicUser, type UserStore } from "../users/user-store.ts";

export interface UserRoutesDeps {
  users: UserStore;
  verifier: TokenVerifier;
  redis: Redis;
  keys: RedisKeys;
}

/** `/api/user/*`: the directory and who is online (the Redis set the gateways maintain). */
export function createUserRoutes({ users, verifier, redis, keys }: UserRoutesDeps): Router {
  const router = Router();
  router.use(requireAuth(verifier));

  router.get("/list", async (req, res) => {
    const query = validate(userListQuerySchema, req.query, "query");
    const page = await users.list(query.limit, query.cursor);
    const ids = page.users.map((u) => u._id);
    const online = ids.length > 0 ? await redis.smismember(keys.onlineUsers(), ...ids) : [];
    res.json({
      users: page.users.map((u, i) => ({ ...toPublicUser(u), online: online[i] === 1 })),
      nextCursor: page.nextCursor,
    });
  });

  router.get("/online", async (_req, res) => {
    const userIds = await redis.smembers(keys.onlineUsers());
    res.json({ count: userIds.length, userIds });
  });

  router.get("/:id/online", async (req, res) => {
    const { id } = validate(userIdParamsSchema, req.params, "path");
    const user = await users.findById(id);
    if (!user) throw new NotFoundError("User not found", "USER_NOT_FOUND");
    const online = (await redis.sismember(keys.onlineUsers(), id)) === 1;
    res.json({ userId: id, online });
  });

  return router;
}
