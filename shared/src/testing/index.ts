export * from "./wait-for.ts";
export * from "./unique.ts";
export * from "./stack-env.ts";
export * from "./timing.ts";
