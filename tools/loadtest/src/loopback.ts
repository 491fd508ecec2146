/** The load and fault tools only ever talk to this machine. */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === "localhost" || host === "[::1]" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function assertLoopback(url: string): void {
  if (!isLoopback(url)) throw new Error(`${url}: only loopback targets are allowed`);
}
