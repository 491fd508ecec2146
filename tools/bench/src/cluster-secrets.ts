import { existsSync, readFileSync } from "node:fs";

/** The running native cluster's tokens (from `npm run up`), or the environment's. */
export function clusterSecrets(): { internalToken: string; adminToken: string } {
  const file = ".stack/secrets/secrets.env";
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const pick = (name: string) => process.env[name] ?? new RegExp(`^${name}=(.+)$`, "m").exec(text)?.[1]?.trim();
  const internalToken = pick("INTERNAL_API_TOKEN");
  const adminToken = pick("ADMIN_API_TOKEN");
  if (!internalToken || !adminToken) throw new Error("No cluster secrets: run `npm run up` first (or set INTERNAL_API_TOKEN and ADMIN_API_TOKEN)");
  return { internalToken, adminToken };
}
