import type { TestCluster } from "../../../test/helpers/cluster.ts";
import { freePort, type ServiceProcess } from "../../../test/helpers/processes.ts";

export interface GrpcGateway {
  /** HTTP base URL (REST, Socket.IO, /ws). */
  url: string;
  /** host:port of its gRPC transport. */
  grpcAddress: string;
  process: ServiceProcess;
}

/** Starts `count` more gateways in the cluster, each on a gRPC port the test knows. */
export async function startGrpcGateways(cluster: TestCluster, count: number, name = "grpc"): Promise<GrpcGateway[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const grpcPort = await freePort();
      const svc = await cluster.spawn(`${name}-gateway-${i}`, "services/gateway/src/main.ts", { GATEWAY_ID: `${name}-gw${i}`, GRPC_PORT: String(grpcPort) });
      return { url: svc.url, grpcAddress: `127.0.0.1:${grpcPort}`, process: svc };
    }),
  );
}

/** Maps a gateway's HTTP URL to its gRPC address. */
export const grpcAddressIn = (gateways: GrpcGateway[]) => (url: string) => {
  const gateway = gateways.find((g) => g.url === url);
  if (!gateway) throw new Error(`no gRPC address for ${url}`);
  return gateway.grpcAddress;
};
