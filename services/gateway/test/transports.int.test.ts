import { afterAll, beforeAll } from "vitest";
import { startCluster, type TestCluster } from "../../../test/helpers/cluster.ts";
import { grpcAddressIn, startGrpcGateways, type GrpcGateway } from "./grpc-gateways.ts";
import { grpcTransport, plainWsTransport, socketIoTransport } from "./transport-clients.ts";
import { transportSuite } from "./transport-suite.ts";

let cluster: TestCluster;
let gateways: GrpcGateway[] = [];
beforeAll(async () => {
  cluster = await startCluster({ gateways: 0 });
  gateways = await startGrpcGateways(cluster, 2);
});
afterAll(async () => {
  await cluster?.stop();
});

// The same suite, word for word, on every transport of the same two gateways.
const urls = () => gateways.map((g) => g.url);
transportSuite(socketIoTransport, urls);
transportSuite(plainWsTransport, urls);
transportSuite(grpcTransport((url) => grpcAddressIn(gateways)(url)), urls);
