import net from 'node:net';
import { readFileSync } from 'node:fs';

/** A port that was free a moment ago on 127.0.0.1 (for child processes that need one up front). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls until fn returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `waitFor timed out after ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ''}`,
  );
}

/** The kernel's ephemeral range: ports that any `listen(0)` or outgoing connection may take at any moment. */
function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high) return { low, high };
  } catch {
    // not Linux: fall back to the IANA dynamic range
  }
  return { low: 49_152, high: 65_535 };
}

/**
 * `count` consecutive ports free right now, for a process that binds fixed ports (the launcher's
 * base + n). They are taken below the ephemeral range, so another test's `listen(0)` or an outgoing
 * connection cannot grab one between this check and the bind.
 */
export async function freePortBlock(count: number): Promise<number> {
  const { low } = ephemeralRange();
  const floor = 10_000;
  const ceiling = low > floor + count ? low - count : 30_000;
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = floor + Math.floor(Math.random() * (ceiling - floor));
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isBindable(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no block of ${count} free ports below ${ceiling + count}`);
}

function isBindable(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = net.createServer();
    srv.once('error', () => done(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => done(true)));
  });
}
