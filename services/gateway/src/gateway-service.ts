import {
  createBatchingProducer,
  createConnectionRegistry,
  createDeliveryPublisher,
  createKafka,
  createRedis,
  createTokenVerifier,
  pipelineTopics,
  redisKeys,
  superviseConsumer,
  runService,
  type Logger,
  type RunningService,
} from "@chat/shared";
import { gatewayDeliveryTopicName, messageReadTopic, messageSendTopic, topicName } from "@chat/shared/contracts";
import { createMessageClient } from "./backend/message-client.ts";
import type { GatewayConfig } from "./config.ts";
import { runDeliveryConsumer } from "./delivery/delivery-consumer.ts";
import { createGatewayMetrics } from "./gateway-metrics.ts";
import { mountPublicApi } from "./http/public-api.ts";
import { createRateLimiter } from "./http/rate-limiter.ts";
import { createPresenceOrder } from "./presence/presence-order.ts";
import { createPresence } from "./presence/presence.ts";
import { createChatActions } from "./chat/chat-actions.ts";
import { createConnectionCore } from "./connection/connection-core.ts";
import { createLocalSessions } from "./connection/sessions.ts";
import { startGrpcTransport } from "./transports/grpc-server.ts";
import { attachPlainWebSocket } from "./transports/plain-ws-server.ts";
import { attachSocketIo } from "./transports/socket-io-server.ts";
import type { TransportDeps } from "./transports/transport-deps.ts";

export interface GatewayServiceOptions {
  handleSignals?: boolean;
  logger?: Logger;
}

/** The public edge: REST proxy, Socket.IO, /ws and gRPC, delivery of Kafka events to this replica's sockets. */
export function startGateway(config: GatewayConfig, options: GatewayServiceOptions = {}): Promise<RunningService> {
  return runService(
    "gateway",
    config,
    config.PORT,
    async ({ logger, app, server, registry: metrics }) => {
      const gatewayId = config.GATEWAY_ID;
      const prefix = config.KAFKA_TOPIC_PREFIX;
      const log = logger.child({ gatewayId });
      const kafka = await createKafka({ clientId: gatewayId, brokers: config.KAFKA_BROKERS, logger: log, metrics });
      const redis = await createRedis({ url: config.REDIS_URL, logger: log, connectionName: gatewayId });
      const keys = redisKeys(config.REDIS_PREFIX);
      const verifier = createTokenVerifier({ publicKey: config.JWT_PUBLIC_KEY, redis: redis.redis, keys });
      const limiter = createRateLimiter({ redis: redis.redis, keys, windowS: config.RATE_LIMIT_WINDOW_S });
      mountPublicApi(app, { config, logger: log, verifier, limiter });

      const deliveryTopic = gatewayDeliveryTopicName(prefix, gatewayId);
      await kafka.ensureTopics([
        ...pipelineTopics(config),
        {
          topic: deliveryTopic,
          numPartitions: config.KAFKA_DELIVERY_PARTITIONS,
          replicationFactor: config.KAFKA_REPLICATION_FACTOR,
          // Delivery events only matter live; history is the durable copy.
          configs: { "retention.ms": String(3_600_000) },
        },
      ]);

      const producer = await kafka.createProducer();
      const batching = createBatchingProducer(producer);
      const connections = createConnectionRegistry({ redis: redis.redis, keys, gatewayTtlMs: config.PRESENCE_GATEWAY_TTL_MS });
      const delivery = createDeliveryPublisher({ producer, admin: kafka.admin, registry: connections, topicPrefix: prefix, logger: log, metrics });
      const messages = createMessageClient({ baseUrl: config.MESSAGE_URL, internalToken: config.INTERNAL_API_TOKEN });
      const sessions = createLocalSessions();
      const presence = createPresence({
        gatewayId,
        registry: connections,
        messages,
        delivery,
        logger: log,
        heartbeatMs: config.PRESENCE_HEARTBEAT_MS,
        sweepMs: config.PRESENCE_SWEEP_MS,
        localDevices: () => sessions.devicesByUser(),
        onConnectionsRestored: () => core.reconnectAll(),
      });
      const actions = createChatActions({
        messages,
        producer: batching,
        delivery,
        sendTopic: topicName(prefix, messageSendTopic),
        readTopic: topicName(prefix, messageReadTopic),
        maxContentLength: config.MESSAGE_MAX_LENGTH,
        typingPerSecond: config.TYPING_PER_SECOND,
        typingTtlMs: config.TYPING_TTL_MS,
        resumeMaxPerConversation: config.RESUME_MAX_PER_CONVERSATION,
        resumeRetryMs: config.RESUME_RETRY_MS,
        onMessageSent: () => gatewayMetrics.messageSent(),
      });

      const gatewayMetrics = createGatewayMetrics(metrics, sessions);

      const presenceOrder = createPresenceOrder();
      const deliveryConsumer = superviseConsumer({
        name: "delivery",
        createConsumer: kafka.createConsumer,
        // A restarted gateway rejoins under its old group id: a short session lets the group
        // give up on its dead previous life in seconds instead of kafkajs's default 30.
        config: { groupId: `${prefix}gateway.${gatewayId}`, sessionTimeout: config.KAFKA_SESSION_TIMEOUT_MS, heartbeatInterval: Math.floor(config.KAFKA_SESSION_TIMEOUT_MS / 5) },
        logger: log,
        registry: metrics,
        start: (consumer) => runDeliveryConsumer(consumer, { topic: deliveryTopic, partitions: config.KAFKA_DELIVERY_PARTITIONS, sessions, logger: log, metrics: gatewayMetrics, presenceOrder, lingerMs: config.KAFKA_FETCH_LINGER_MS }),
      });
      await presence.start();

      const core = createConnectionCore({
        logger: log,
        verifier,
        presence,
        actions,
        sessions,
        eventsPerSecond: config.SOCKET_EVENTS_PER_SECOND,
        onDisconnected: (userId) => actions.userLeft(userId),
      });
      const transport: TransportDeps = { server, logger: log, core, maxPayloadBytes: config.SOCKET_MAX_PAYLOAD_BYTES };
      attachSocketIo(transport);
      const plainWs = attachPlainWebSocket(transport);
      const grpc =
        config.GRPC_PORT > 0
          ? await startGrpcTransport({ logger: log, core, host: config.HTTP_HOST, port: config.GRPC_PORT, maxPayloadBytes: config.SOCKET_MAX_PAYLOAD_BYTES })
          : undefined;

      return {
        dependencies: [kafka, redis],
        checks: [deliveryConsumer, batching],
        shutdown: [
          {
            name: "drain connections",
            run: async () => {
              plainWs.close();
              const drained = core.drain();
              await Promise.all([drained, grpc?.close(drained)]);
            },
          },
          { name: "leave the registry", run: () => presence.stop() },
          { name: "stop delivery consumer", run: () => deliveryConsumer.stop() },
          { name: "flush producer", run: () => batching.flush() },
        ],
      };
    },
    options,
  );
}
