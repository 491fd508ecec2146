import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RequestListener } from "node:http";

export interface Listening {
  server: Server;
  /** The bound port (useful with port 0 in tests). */
  port: number;
  /** Stops accepting, waits for in-flight requests, then force-closes idle keep-alives. */
  close(): Promise<void>;
}

export async function listen(handler: RequestListener | undefined, port: number, host: string, existing?: Server): Promise<Listening> {
  const server = existing ?? createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
