export * from "./load-config.ts";
export * from "./env-types.ts";
export * from "./common.ts";
