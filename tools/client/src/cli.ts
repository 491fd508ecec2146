import { emitKeypressEvents } from "node:readline";
import { parseArgs } from "node:util";
import { runTerminalChat } from "./terminal-chat.ts";

const { values } = parseArgs({
  options: {
    gateway: { type: "string", default: "http://127.0.0.1:3000" },
    grpc: { type: "string" },
    user: { type: "string" },
    password: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help || !values.user) {
  console.log(
    "usage: npm run client -- --user <name> [--gateway http://127.0.0.1:3001] [--grpc 127.0.0.1:50051] [--password <pw>]\n" +
      "(logs in over HTTP, or registers when the user does not exist; the default password is <name>-password;\n" +
      " --grpc chats over the gateway's gRPC transport instead of Socket.IO)",
  );
  process.exit(values.help ? 0 : 2);
}
if (process.stdin.isTTY) emitKeypressEvents(process.stdin);
runTerminalChat({
  gateway: values.gateway,
  grpc: values.grpc,
  user: values.user,
  password: values.password ?? `${values.user}-password`,
  input: process.stdin,
  output: process.stdout,
  keypressTyping: Boolean(process.stdin.isTTY),
}).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
