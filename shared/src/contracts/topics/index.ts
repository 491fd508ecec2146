export * from "./topic.ts";
export * from "./message-send.ts";
export * from "./message-read.ts";
export * from "./message-delivered.ts";
export * from "./message-stored.ts";
