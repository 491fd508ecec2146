/**
 * Where the test suites find the real components: the same env variables the services
 * read, with the native stack's loopback defaults.
 */
export const stackEnv = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  mongoUrl: process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  amqpUrl: process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672",
  search: { host: process.env.SEARCH_HOST ?? "127.0.0.1", port: Number(process.env.SEARCH_PORT ?? 1491), password: process.env.SEARCH_PASSWORD ?? "chat-dev-search" },
};
