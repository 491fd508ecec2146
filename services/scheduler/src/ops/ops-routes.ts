import express, { Router } from "express";
import { validate } from "@chat/shared";
import { z } from "@chat/shared/contracts";
import type { ClusterViewer } from "./cluster-view.ts";
import { MAX_RETRY_ALL, type DeadLetters } from "./dead-letters.ts";
import { MAX_RECORDS, TOPIC_NAME, type KafkaView } from "./kafka-view.ts";
import type { AutoMessagesView } from "./ops-types.ts";
import type { Rates } from "./rates.ts";
import { requireAdmin } from "../admin/require-admin.ts";

const limit = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

const recordsParamsSchema = z.object({ topic: z.string().regex(TOPIC_NAME, "a Kafka topic name") });
const recordsQuerySchema = z.object({ limit: limit(20, MAX_RECORDS) }).strict();
const deadLettersQuerySchema = z.object({ limit: limit(50, MAX_RETRY_ALL) }).strict();
const noQuerySchema = z.object({}).strict();
const retrySchema = z.union([
  z.object({ ids: z.array(z.string().min(1).max(64)).min(1).max(MAX_RETRY_ALL) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);

export interface OpsApiDeps {
  adminToken: string;
  cluster: ClusterViewer;
  kafka: KafkaView;
  automessages: () => Promise<AutoMessagesView>;
  deadLetters: DeadLetters;
  rates: Rates;
}

/**
 * `/ops/api/*`: the operator console's JSON, every route behind the admin token. Reads
 * only, except the dead-letter retry (audited where it happens).
 */
export function createOpsApi({ adminToken, cluster, kafka, automessages, deadLetters, rates }: OpsApiDeps): Router {
  const router = Router();
  router.use(requireAdmin(adminToken));
  router.use((_req, res, next) => {
    res.setHeader("Cache-Control", "no-store");
    next();
  });
  const read = <T>(handler: () => Promise<T>): express.RequestHandler => async (req, res) => {
    validate(noQuerySchema, req.query, "query");
    res.json(await handler());
  };

  router.get("/cluster", read(() => cluster.view()));
  router.get("/rates", read(() => rates.rates()));
  router.get("/kafka/brokers", read(() => kafka.brokers()));
  router.get("/kafka/topics", read(() => kafka.topics()));
  router.get("/kafka/consumer-groups", read(() => kafka.consumerGroups()));
  router.get("/kafka/topics/:topic/records", async (req, res) => {
    const { topic } = validate(recordsParamsSchema, req.params, "params");
    const query = validate(recordsQuerySchema, req.query, "query");
    res.json(await kafka.records(topic, query.limit));
  });
  router.get("/automessages", read(automessages));
  router.get("/automessages/dlq", async (req, res) => {
    const query = validate(deadLettersQuerySchema, req.query, "query");
    res.json(await deadLetters.list(query.limit));
  });
  router.post("/automessages/dlq/retry", express.json({ limit: "64kb" }), async (req, res) => {
    res.json(await deadLetters.retry(validate(retrySchema, req.body ?? {})));
  });
  return router;
}
