// Micro-benchmarks of two hot-path costs found with the inspector profiler: verifying an ES256
// access token with the key as PEM vs as a KeyObject, and parsing two timestamps with zod's
// datetime() vs a precompiled regex (contracts/zod.ts isoDateTime).
//
//   npm run bench:micro
import { generateKeyPairSync, createPublicKey } from "node:crypto";
import jwt from "jsonwebtoken";
import { isoDateTime, z } from "@chat/shared/contracts";
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
const token = jwt.sign({ a: 1 }, privateKey, { algorithm: "ES256" });
const time = (n: number, f: () => unknown) => { const s = performance.now(); for (let i = 0; i < n; i++) f(); return ((performance.now() - s) * 1000) / n; };
const key = createPublicKey(pem);
time(2000, () => jwt.verify(token, pem, { algorithms: ["ES256"] })); time(2000, () => jwt.verify(token, key, { algorithms: ["ES256"] }));
console.log(`jwt.verify ES256: PEM ${time(5000, () => jwt.verify(token, pem, { algorithms: ["ES256"] })).toFixed(1)} µs, KeyObject ${time(5000, () => jwt.verify(token, key, { algorithms: ["ES256"] })).toFixed(1)} µs`);
const a = z.object({ sentAt: z.string().datetime(), createdAt: z.string().datetime() });
const b = z.object({ sentAt: isoDateTime(), createdAt: isoDateTime() });
const v = { sentAt: new Date().toISOString(), createdAt: new Date().toISOString() };
time(20000, () => a.parse(v)); time(20000, () => b.parse(v));
console.log(`two timestamps parsed: z.string().datetime() ${time(100000, () => a.parse(v)).toFixed(2)} µs, precompiled regex ${time(100000, () => b.parse(v)).toFixed(2)} µs`);
