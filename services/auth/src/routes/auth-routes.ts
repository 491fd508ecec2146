import bcrypt from "bcrypt";
import { Router, type Request } from "express";
import {
  NotFoundError,
  UnauthorizedError,
  authOf,
  requireAuth,
  validate,
  type TokenVerifier,
} from "@chat/shared";
import { loginRequestSchema, profileUpdateSchema, refreshRequestSchema, registerRequestSchema } from "@chat/shared/contracts";
import type { TokenService } from "../tokens/token-service.ts";
import { toSelfUser, type UserStore } from "../users/user-store.ts";

export interface AuthRoutesDeps {
  users: UserStore;
  tokens: TokenService;
  verifier: TokenVerifier;
  bcryptCost: number;
}

const clientMeta = (req: Request) => ({ userAgent: req.get("user-agent") ?? "", ip: req.ip ?? "" });

/** `/api/auth/*`: register, login, refresh, logout, me, sessions. */
export function createAuthRoutes({ users, tokens, verifier, bcryptCost }: AuthRoutesDeps): Router {
  const router = Router();
  // Compared against when the user does not exist, so both failures cost the same time.
  const dummyHash = bcrypt.hashSync("not-a-real-password", bcryptCost);
  const auth = requireAuth(verifier);

  router.post("/register", async (req, res) => {
    const input = validate(registerRequestSchema, req.body);
    const passwordHash = await bcrypt.hash(input.password, bcryptCost);
    const user = await users.insert({ username: input.username, email: input.email, passwordHash });
    const pair = await tokens.startSession({ id: user._id, username: user.username }, clientMeta(req));
    res.status(201).json({ user: toSelfUser(user), ...pair });
  });

  router.post("/login", async (req, res) => {
    const input = validate(loginRequestSchema, req.body);
    const user = await users.findByLogin(input.login);
    const ok = await bcrypt.compare(input.password, user?.passwordHash ?? dummyHash);
    if (!user || !ok || !user.active) throw new UnauthorizedError("Invalid login or password", "INVALID_CREDENTIALS");
    await users.ensureListed(user);
    const pair = await tokens.startSession({ id: user._id, username: user.username }, clientMeta(req));
    res.json({ user: toSelfUser(user), ...pair });
  });

  router.post("/refresh", async (req, res) => {
    const input = validate(refreshRequestSchema, req.body);
    res.json(await tokens.rotate(input.refreshToken));
  });

  router.post("/logout", auth, async (_req, res) => {
    await tokens.logout(authOf(res));
    res.status(204).end();
  });

  router.get("/me", auth, async (_req, res) => {
    const user = await users.findById(authOf(res).userId);
    if (!user) throw new NotFoundError("User not found", "USER_NOT_FOUND");
    res.json({ user: toSelfUser(user) });
  });

  router.patch("/me", auth, async (req, res) => {
    const update = validate(profileUpdateSchema, req.body);
    const user = await users.updateProfile(authOf(res).userId, update);
    if (!user) throw new NotFoundError("User not found", "USER_NOT_FOUND");
    res.json({ user: toSelfUser(user) });
  });

  router.get("/sessions", auth, async (_req, res) => {
    res.json({ sessions: await tokens.listSessions(authOf(res).userId) });
  });

  return router;
}
