/** The npm package a source URL or stack frame belongs to (`kafkajs`, `@grpc/grpc-js`), if it is in node_modules. */
export function dependencyOf(location: string): string | undefined {
  return /node_modules\/((@[^/]+\/)?[^/]+)/.exec(location)?.[1];
}
