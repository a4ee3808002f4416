import http from 'node:http';

/**
 * A bounded closed-loop load generator: `concurrency` workers send requests back to
 * back until `total` requests are done or `maxSeconds` pass. Keep-alive like real clients.
 */
export async function runLoad({ url, headers = {}, concurrency, total, maxSeconds = 60, makePath }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const latencies = [];
  let sent = 0;
  let errors = 0;
  const statuses = {};
  const deadline = Date.now() + maxSeconds * 1000;
  const one = (path) =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = http.request(
        { host: target.hostname, port: target.port, path, method: 'GET', agent, headers },
        (res) => {
          res.resume();
          res.on('end', () => {
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
            if (res.statusCode !== 200) errors++;
            latencies.push(performance.now() - started);
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total && Date.now() < deadline) {
        const i = sent++;
        await one(makePath(i));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return {
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50: pct(50),
    p99: pct(99),
    errors,
    statuses,
  };
}
