#!/usr/bin/env node
// Creates the development secrets of a cluster in DIR, once: an ES256 key pair for
// access tokens (only the auth service gets the private key) and the internal and admin
// tokens. Existing files are kept, so tokens stay valid across restarts.
//
//   node scripts/dev-secrets.mjs DIR
//
// DIR/jwt-private.pem, DIR/jwt-public.pem, DIR/secrets.env (INTERNAL_API_TOKEN, ADMIN_API_TOKEN).
// Production supplies its own keys and tokens through the environment instead.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node scripts/dev-secrets.mjs DIR");
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const privateFile = join(dir, "jwt-private.pem");
const publicFile = join(dir, "jwt-public.pem");
if (!existsSync(privateFile) || !existsSync(publicFile)) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  writeFileSync(privateFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(publicFile, publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
}
const envFile = join(dir, "secrets.env");
if (!existsSync(envFile)) {
  const token = () => randomBytes(24).toString("base64url");
  writeFileSync(envFile, `INTERNAL_API_TOKEN=${token()}\nADMIN_API_TOKEN=${token()}\n`, { mode: 0o600 });
}
