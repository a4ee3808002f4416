import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { freePort } from '@workemon/testkit';
import { readYaml, repoPath, requireTool } from './repo.js';
import { waitForHttp } from './mesh.js';

/**
 * Real Prometheus and blackbox_exporter (Debian packages) on 127.0.0.1 free ports, configured from the
 * repository's own prometheus.yml and prometheus/blackbox.yml with only the target addresses rewritten.
 */
export interface RunningPeer {
  url: string;
  port: number;
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

function spawnPeer(cmd: string, args: string[], port: number): RunningPeer {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

export async function startBlackbox(): Promise<RunningPeer> {
  const bin = requireTool('prometheus-blackbox-exporter');
  const port = await freePort();
  const peer = spawnPeer(
    bin,
    [`--config.file=${repoPath('prometheus/blackbox.yml')}`, `--web.listen-address=127.0.0.1:${port}`],
    port,
  );
  await waitForHttp(`${peer.url}/metrics`, 10_000);
  return peer;
}

interface StaticConfig {
  targets: string[];
  labels?: Record<string, string>;
}
interface ScrapeConfig {
  job_name: string;
  static_configs?: StaticConfig[];
  relabel_configs?: { replacement?: string; [k: string]: unknown }[];
  [k: string]: unknown;
}
interface PromConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs: ScrapeConfig[];
  [k: string]: unknown;
}

/**
 * prometheus.yml with compose host:port addresses replaced by `addresses` (e.g. {'secretary:8000':
 * '127.0.0.1:41234'}); throws if any target is left unmapped, so config and test cannot drift apart.
 */
export function localPrometheusConfig(addresses: Record<string, string>, intervalSeconds = 2): string {
  const config = readYaml<PromConfig>('prometheus.yml');
  const map = (value: string) => {
    for (const [from, to] of Object.entries(addresses))
      if (value.includes(from)) return value.replace(from, to);
    throw new Error(`prometheus.yml target ${value} has no local address`);
  };
  config.global = {
    ...(config.global ?? {}),
    scrape_interval: `${intervalSeconds}s`,
    scrape_timeout: `${intervalSeconds}s`,
    evaluation_interval: `${intervalSeconds}s`,
  };
  config.rule_files = (config.rule_files ?? []).map((f) => repoPath(f));
  for (const job of config.scrape_configs) {
    for (const sc of job.static_configs ?? []) sc.targets = sc.targets.map(map);
    for (const rc of job.relabel_configs ?? [])
      if (rc.replacement && /:\d+$/.test(rc.replacement)) rc.replacement = map(rc.replacement);
  }
  return toYaml(config);
}

/** `port` must be the one the config's own `prometheus` job scrapes (see localPrometheusConfig). */
export async function startPrometheus(
  configText: string,
  port: number,
): Promise<RunningPeer & { query(q: string): Promise<PromVector> }> {
  const bin = requireTool('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'wm-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), configText);
  const peer = spawnPeer(
    bin,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    port,
  );
  const stop = peer.stop;
  peer.stop = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await waitForHttp(`${peer.url}/-/ready`, 15_000);
  return {
    ...peer,
    query: async (q: string) => {
      const res = await fetch(`${peer.url}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { status: string; data?: { result: PromVector }; error?: string };
      if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`);
      return body.data!.result;
    },
  };
}

export type PromVector = { metric: Record<string, string>; value: [number, string] }[];

/** Polls a PromQL query until `done(result)`; bounded. Returns the last result. */
export async function pollQuery(
  prom: { query(q: string): Promise<PromVector> },
  q: string,
  done: (r: PromVector) => boolean,
  timeoutMs = 30_000,
): Promise<PromVector> {
  const deadline = Date.now() + timeoutMs;
  let last: PromVector = [];
  while (Date.now() < deadline) {
    last = await prom.query(q);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  return last;
}
