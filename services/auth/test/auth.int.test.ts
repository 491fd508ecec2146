import { readFileSync } from "node:fs";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, randomIp, registerUser, type TestUser } from "../../../test/helpers/api.ts";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { uniqueName } from "../../../shared/src/testing/index.ts";

type ErrorBody = { error: { code: string; message: string; details?: { fields?: Array<{ field: string }> } } };

describe("accounts through the gateways", () => {
  let cluster: TestCluster;
  let gwA: string;
  let gwB: string;
  beforeAll(async () => {
    cluster = await startCluster({
      gateways: 2,
      env: { RATE_LIMIT_AUTH_PER_IP: "10", RATE_LIMIT_LOGIN_PER_ACCOUNT: "5", BODY_LIMIT_BYTES: "4096" },
    });
    [gwA, gwB] = cluster.gateways.map((g) => g.url) as [string, string];
  });
  afterAll(() => cluster?.stop());

  describe("happy paths", () => {
    it("registers, and the token from one gateway works on the other", async () => {
      const alice = await registerUser(gwA, "alice");
      const meA = await call<{ user: { id: string; email: string } }>(gwA, "GET", "/api/auth/me", undefined, { token: alice.accessToken });
      const meB = await call<{ user: { id: string; email: string } }>(gwB, "GET", "/api/auth/me", undefined, { token: alice.accessToken });
      expect(meA.status).toBe(200);
      expect(meB.status).toBe(200);
      expect(meB.body.user).toEqual(meA.body.user);
      expect(meB.body.user.email).toBe(alice.email);
    });

    it("logs in by username or email, case-insensitively", async () => {
      const u = await registerUser(gwA);
      for (const login of [u.username.toUpperCase(), u.email.toUpperCase(), ` ${u.email} `]) {
        const res = await call<{ user: { id: string }; accessToken: string }>(gwB, "POST", "/api/auth/login", { login, password: u.password });
        expect(res.status, login).toBe(200);
        expect(res.body.user.id).toBe(u.id);
        expect(typeof res.body.accessToken).toBe("string");
      }
    });

    it("updates the profile and lists users with paging and online flags", async () => {
      const u = await registerUser(gwA);
      const patched = await call<{ user: { displayName: string; bio: string } }>(
        gwB,
        "PATCH",
        "/api/auth/me",
        { displayName: "  Alice Liddell ", bio: "line one\nline two", avatarUrl: "https://example.com/a.png" },
        { token: u.accessToken },
      );
      expect(patched.status).toBe(200);
      expect(patched.body.user.displayName).toBe("Alice Liddell");
      expect(patched.body.user.bio).toBe("line one\nline two");

      await Promise.all([registerUser(gwA), registerUser(gwB), registerUser(gwA)]);
      const seen = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { status: number; body: { users: Array<{ id: string; online: boolean }>; nextCursor: string | null } } = await call(
          gwA,
          "GET",
          `/api/user/list?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
          undefined,
          { token: u.accessToken },
        );
        expect(page.status).toBe(200);
        expect(page.body.users.length).toBeLessThanOrEqual(2);
        for (const listed of page.body.users) {
          expect(seen.has(listed.id)).toBe(false);
          seen.add(listed.id);
          expect(typeof listed.online).toBe("boolean");
        }
        cursor = page.body.nextCursor;
        pages++;
      } while (cursor && pages < 100);
      expect(seen.has(u.id)).toBe(true);
      expect(pages).toBeGreaterThanOrEqual(2);

      const online = await call<{ count: number; userIds: string[] }>(gwB, "GET", "/api/user/online", undefined, { token: u.accessToken });
      expect(online.status).toBe(200);
      expect(online.body.count).toBe(online.body.userIds.length);
      const one = await call<{ userId: string; online: boolean }>(gwB, "GET", `/api/user/${u.id}/online`, undefined, { token: u.accessToken });
      expect(one.status).toBe(200);
      expect(one.body).toEqual({ userId: u.id, online: false });
      const missing = await call<ErrorBody>(gwB, "GET", `/api/user/no-such-user/online`, undefined, { token: u.accessToken });
      expect(missing.status).toBe(404);
    });

    it("serves OpenAPI with every endpoint, and Swagger UI", async () => {
      const spec = await call<{ paths: Record<string, Record<string, unknown>> }>(gwA, "GET", "/api/openapi.json");
      expect(spec.status).toBe(200);
      for (const path of ["/api/auth/register", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout", "/api/auth/me", "/api/user/list", "/api/user/online", "/api/user/{id}/online"]) {
        expect(spec.body.paths[path], path).toBeDefined();
      }
      expect(Object.keys(spec.body.paths["/api/auth/me"]!)).toEqual(expect.arrayContaining(["get", "patch"]));
      const docs = await fetch(`${gwA}/api/docs/`);
      expect(docs.status).toBe(200);
      expect(await docs.text()).toContain("swagger-ui");
    });
  });

  describe("tokens", () => {
    it("rotates refresh tokens; reusing a spent one revokes the whole family", async () => {
      const u = await registerUser(gwA);
      const first = await call<{ accessToken: string; refreshToken: string }>(gwA, "POST", "/api/auth/refresh", { refreshToken: u.refreshToken });
      expect(first.status).toBe(200);
      expect(first.body.refreshToken).not.toBe(u.refreshToken);
      expect((await call(gwB, "GET", "/api/auth/me", undefined, { token: first.body.accessToken })).status).toBe(200);

      const second = await call<{ accessToken: string; refreshToken: string }>(gwB, "POST", "/api/auth/refresh", { refreshToken: first.body.refreshToken });
      expect(second.status).toBe(200);

      const reuse = await call<ErrorBody>(gwA, "POST", "/api/auth/refresh", { refreshToken: u.refreshToken });
      expect(reuse.status).toBe(401);
      expect(reuse.body.error.code).toBe("REFRESH_REUSED");
      // The family is dead: the newest refresh and every access token of the session fail too.
      expect((await call(gwB, "POST", "/api/auth/refresh", { refreshToken: second.body.refreshToken })).status).toBe(401);
      expect((await call(gwA, "GET", "/api/auth/me", undefined, { token: second.body.accessToken })).status).toBe(401);
      // Another session of the same user is untouched.
      const other = await call<{ accessToken: string }>(gwA, "POST", "/api/auth/login", { login: u.username, password: u.password }, { ip: u.ip });
      expect((await call(gwB, "GET", "/api/auth/me", undefined, { token: other.body.accessToken })).status).toBe(200);
    });

    it("logout makes the access token fail on both gateways at once, and its refresh too", async () => {
      const u = await registerUser(gwA);
      expect((await call(gwB, "POST", "/api/auth/logout", undefined, { token: u.accessToken })).status).toBe(204);
      for (const gw of [gwA, gwB]) {
        const res = await call<ErrorBody>(gw, "GET", "/api/auth/me", undefined, { token: u.accessToken });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe("TOKEN_REVOKED");
      }
      expect((await call(gwA, "POST", "/api/auth/refresh", { refreshToken: u.refreshToken })).status).toBe(401);
    });

    it("refuses expired, tampered, wrong-algorithm and garbage tokens with 401", async () => {
      const u = await registerUser(gwA);
      const privateKey = readFileSync(cluster.env.JWT_PRIVATE_KEY_FILE!, "utf8");
      const publicKey = readFileSync(cluster.env.JWT_PUBLIC_KEY_FILE!, "utf8");
      const claims = { usr: u.username, sid: "s1", typ: "access", sub: u.id, jti: uniqueName("j"), iss: "chat-auth" };
      const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }, privateKey, { algorithm: "ES256" });
      const [h, p, s] = u.accessToken.split(".") as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: "someone-else" })).toString("base64url")}.${s}`;
      const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${p}.`;
      const hs256 = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 }, publicKey, { algorithm: "HS256" });
      const cases: Array<[string, string, string]> = [
        ["expired", expired, "TOKEN_EXPIRED"],
        ["tampered", tampered, "TOKEN_INVALID"],
        ["alg none", none, "TOKEN_INVALID"],
        ["HS256 with the public key", hs256, "TOKEN_INVALID"],
        ["garbage", "not.a.jwt", "TOKEN_INVALID"],
      ];
      for (const [name, token, code] of cases) {
        const res = await call<ErrorBody>(gwB, "GET", "/api/auth/me", undefined, { token });
        expect(res.status, name).toBe(401);
        expect(res.body.error.code, name).toBe(code);
      }
      const none401 = await call<ErrorBody>(gwA, "GET", "/api/user/online");
      expect(none401.status).toBe(401);
      expect(none401.body.error.code).toBe("TOKEN_MISSING");
    });
  });

  describe("bad input", () => {
    const base = () => ({ username: uniqueName("v").replace(/-/g, "_").slice(0, 30), email: `${uniqueName("v")}@example.com`, password: "long enough password" });
    const fieldsOf = (b: ErrorBody) => (b.error.details?.fields ?? []).map((f) => f.field);

    it("answers 400 with field details for missing, wrong-typed and malformed fields", async () => {
      const cases: Array<[string, unknown, string]> = [
        ["missing username", { ...base(), username: undefined }, "username"],
        ["numeric username", { ...base(), username: 12345 }, "username"],
        ["bad email", { ...base(), email: "not-an-email" }, "email"],
        ["short password", { ...base(), password: "short" }, "password"],
        ["control chars in username", { ...base(), username: "bad\u0007name" }, "username"],
        ["unknown field", { ...base(), admin: true }, "body"],
      ];
      for (const [name, body, field] of cases) {
        const res = await call<ErrorBody>(gwA, "POST", "/api/auth/register", body);
        expect(res.status, name).toBe(400);
        expect(res.body.error.code, name).toBe("VALIDATION_FAILED");
        expect(fieldsOf(res.body).join(",") || "body", name).toContain(field);
      }
      const badProfile = await call<ErrorBody>(gwA, "PATCH", "/api/auth/me", { displayName: "x\u0000y" }, { token: (await registerUser(gwA)).accessToken });
      expect(badProfile.status).toBe(400);
    });

    it("refuses operator injection, malformed JSON and oversize bodies, storing nothing", async () => {
      const u = await registerUser(gwA);
      const injection = await call<ErrorBody>(gwA, "POST", "/api/auth/login", { login: { $gt: "" }, password: { $gt: "" } });
      expect(injection.status).toBe(400);
      const injection2 = await call<ErrorBody>(gwA, "POST", "/api/auth/login", { login: u.username, password: { $gt: "" } });
      expect(injection2.status).toBe(400);
      const queryInjection = await call<ErrorBody>(gwA, "GET", "/api/user/list?cursor[$gt]=", undefined, { token: u.accessToken });
      expect(queryInjection.status).toBe(400);

      const malformed = await call<ErrorBody>(gwA, "POST", "/api/auth/register", undefined, { raw: '{"username": "x",' });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.code).toBe("VALIDATION_FAILED");

      const big = { ...base(), password: "p".repeat(10_000) };
      const oversize = await call<ErrorBody>(gwA, "POST", "/api/auth/register", big);
      expect(oversize.status).toBe(413);
      expect(oversize.body.error.code).toBe("PAYLOAD_TOO_LARGE");
      const login = await call(gwA, "POST", "/api/auth/login", { login: big.username, password: "long enough password" });
      expect(login.status).toBe(401);
    });

    it("answers 409 to a duplicate username (any case) or email", async () => {
      const u = await registerUser(gwA);
      const dupName = await call<ErrorBody>(gwB, "POST", "/api/auth/register", { ...base(), username: u.username.toUpperCase() });
      expect(dupName.status).toBe(409);
      expect(dupName.body.error.code).toBe("USERNAME_TAKEN");
      const dupEmail = await call<ErrorBody>(gwB, "POST", "/api/auth/register", { ...base(), email: u.email.toUpperCase() });
      expect(dupEmail.status).toBe(409);
      expect(dupEmail.body.error.code).toBe("EMAIL_TAKEN");
    });

    it("lets exactly one of many concurrent registrations of the same name win", async () => {
      const username = uniqueName("race").replace(/-/g, "_").slice(0, 30);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          call((i % 2 ? gwA : gwB), "POST", "/api/auth/register", { username, email: `${username}.${i}@example.com`, password: "long enough password" }),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    });

    it("gives a wrong password and an unknown user the same 401", async () => {
      const u = await registerUser(gwA);
      const wrong = await call<ErrorBody>(gwA, "POST", "/api/auth/login", { login: u.username, password: "wrong password!" });
      const unknown = await call<ErrorBody>(gwA, "POST", "/api/auth/login", { login: uniqueName("ghost"), password: "wrong password!" });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(unknown.body).toEqual(wrong.body);
    });
  });

  describe("rate limits shared by every gateway", () => {
    it("limits login attempts per account across both gateways, with Retry-After", async () => {
      const u: TestUser = await registerUser(gwA);
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 7; i++) {
        const res = await call((i % 2 ? gwA : gwB), "POST", "/api/auth/login", { login: u.username, password: "wrong password!" }, { ip: randomIp() });
        statuses.push(res.status);
        retryAfter ??= res.headers.get("retry-after");
      }
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(statuses.slice(5)).toEqual([429, 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    });

    it("limits login/register per client IP across both gateways", async () => {
      const ip = randomIp();
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const res = await call<ErrorBody>((i % 2 ? gwA : gwB), "POST", "/api/auth/login", { login: uniqueName("nobody"), password: "whatever it is" }, { ip });
        statuses.push(res.status);
        if (res.status === 429) {
          expect(res.body.error.code).toBe("RATE_LIMITED");
          expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
        }
      }
      expect(statuses.filter((s) => s === 401)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
      // Another address is unaffected.
      const other = await call(gwA, "POST", "/api/auth/login", { login: uniqueName("nobody"), password: "whatever it is" });
      expect(other.status).toBe(401);
    });
  });
});
