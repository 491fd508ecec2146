interface Waiting<In, Out> {
  input: In;
  resolve: (out: Out) => void;
  reject: (err: unknown) => void;
}

/**
 * Gathers the calls made during one turn of the event loop and runs them as one: `run` gets
 * every input at once and answers each in order. kafkajs hands a fetch's partitions to
 * concurrent `eachBatch` calls, which all reach their first await in the same turn; through
 * this they share one pass through the store, one produce and one commit instead of one each.
 * If `run` fails, every call of that turn fails with its error.
 */
export function createTurnBatcher<In, Out>(run: (inputs: In[]) => Promise<Out[]>): (input: In) => Promise<Out> {
  let waiting: Array<Waiting<In, Out>> | undefined;
  return (input) =>
    new Promise<Out>((resolve, reject) => {
      if (!waiting) {
        const turn: Array<Waiting<In, Out>> = [];
        waiting = turn;
        setImmediate(() => {
          waiting = undefined;
          Promise.resolve()
            .then(() => run(turn.map((w) => w.input)))
            .then(
              (outs) => turn.forEach((w, i) => w.resolve(outs[i]!)),
              (err: unknown) => turn.forEach((w) => w.reject(err)),
            );
        });
      }
      waiting.push({ input, resolve, reject });
    });
}
