import { Router } from "express";
import { validate } from "@chat/shared";
import { idSchema, z } from "@chat/shared/contracts";
import type { UserStore } from "../users/user-store.ts";

const existRequestSchema = z.object({ ids: z.array(idSchema).min(1).max(500) }).strict();

/** Service-to-service routes; the gateway never proxies `/internal`. */
export function createInternalRoutes({ users }: { users: UserStore }): Router {
  const router = Router();
  router.post("/users/exist", async (req, res) => {
    const { ids } = validate(existRequestSchema, req.body);
    const found = new Set(await users.existingIds(ids));
    res.json({ missing: ids.filter((id) => !found.has(id)) });
  });
  return router;
}
