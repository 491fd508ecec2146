import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Integration suites share one Kafka, Redis, RabbitMQ and Mongo-wire server: one file at a time.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: "unit",
          include: ["shared/src/**/*.test.ts", "services/*/src/**/*.test.ts", "tools/*/src/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["shared/test/**/*.int.test.ts", "services/*/test/**/*.int.test.ts", "tools/*/test/**/*.int.test.ts", "test/**/*.int.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          globalSetup: ["test/global-setup.ts"],
        },
      },
    ],
  },
});
