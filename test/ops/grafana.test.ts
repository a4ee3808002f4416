import { readdirSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { dashboardQueries, metricNames } from './support/promql.js';
import { readJson, readYaml, readText, repoPath } from './support/repo.js';

interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: { refId?: string; expr?: string; query?: string; datasource?: { type?: string; uid?: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  uid?: string;
  title?: string;
  panels?: Panel[];
  links?: { url?: string }[];
  templating?: { list: { name: string }[] };
}

const dashboardFiles = () => readdirSync(repoPath('grafana/dashboards')).filter((f) => f.endsWith('.json'));
const allPanels = (d: Dashboard) => {
  const out: Panel[] = [];
  const walk = (ps?: Panel[]) => ps?.forEach((p) => (out.push(p), walk(p.panels)));
  walk(d.panels);
  return out;
};
const datasources = () =>
  readYaml<{
    datasources: {
      name: string;
      uid: string;
      type: string;
      url: string;
      jsonData?: Record<string, unknown>;
    }[];
  }>('grafana/provisioning/datasources/workemon.yml').datasources;

describe('grafana provisioning', () => {
  it('when the dashboards are validated against the Grafana dashboard schema, then every one is valid', () => {
    const schema = readJson<Record<string, unknown>>('test/ops/fixtures/grafana-dashboard.schema.json');
    delete schema.$schema;
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    expect(dashboardFiles().length).toBeGreaterThan(0);
    for (const f of dashboardFiles()) {
      const ok = validate(readJson('grafana/dashboards', f));
      expect(ok, `${f}: ${JSON.stringify(validate.errors?.slice(0, 5), null, 1)}`).toBe(true);
    }
  });

  it('when the dashboards are read, then uids are unique and set, and panel ids are unique within each dashboard', () => {
    const uids = dashboardFiles().map((f) => readJson<Dashboard>('grafana/dashboards', f).uid);
    expect(uids.every((u) => typeof u === 'string' && /^[a-zA-Z0-9_-]{1,40}$/.test(u))).toBe(true);
    expect(new Set(uids).size).toBe(uids.length);
    for (const f of dashboardFiles()) {
      const ids = allPanels(readJson<Dashboard>('grafana/dashboards', f)).map((p) => p.id);
      expect(
        ids.every((i) => Number.isInteger(i)),
        f,
      ).toBe(true);
      expect(new Set(ids).size, `${f} duplicate panel ids`).toBe(ids.length);
    }
  });

  it('when panels are laid out, then none overlap on the 24-column grid', () => {
    for (const f of dashboardFiles()) {
      const boxes = allPanels(readJson<Dashboard>('grafana/dashboards', f)).map((p) => ({
        id: p.id,
        ...p.gridPos!,
      }));
      for (const b of boxes) expect(b.x + b.w, `panel ${b.id}`).toBeLessThanOrEqual(24);
      for (let i = 0; i < boxes.length; i++)
        for (let j = i + 1; j < boxes.length; j++) {
          const [a, b] = [boxes[i]!, boxes[j]!];
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          expect(overlap, `${f}: panels ${a.id} and ${b.id} overlap`).toBe(false);
        }
    }
  });

  it('when panels reference datasources, then each is a provisioned uid of the right type', () => {
    const byUid = new Map(datasources().map((d) => [d.uid, d.type]));
    expect([...byUid.values()].sort()).toEqual(['elasticsearch', 'prometheus']);
    for (const f of dashboardFiles()) {
      for (const p of allPanels(readJson<Dashboard>('grafana/dashboards', f))) {
        for (const ds of [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]) {
          if (!ds) continue;
          expect(byUid.get(ds.uid ?? ''), `${f} panel ${p.id} datasource ${ds.uid}`).toBe(ds.type);
        }
      }
    }
  });

  it('when the overview dashboard is read, then it covers every area issue #4 asks for', () => {
    const exprs = dashboardQueries().map((q) => q.expr);
    const names = new Set(exprs.flatMap(metricNames));
    for (const m of [
      'probe_success',
      'http_server_request_duration_seconds_count',
      'http_server_request_duration_seconds_bucket',
      'llm_request_duration_seconds_bucket',
      'llm_tokens_total',
      'analysis_total',
      'channel_messages_total',
      'communicator_ledger_backlog',
      'communicator_quarantined_total',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ])
      expect([...names], m).toContain(m);
    for (const q of ['0.5', '0.95', '0.99'])
      expect(exprs.some((e) => e.includes(`histogram_quantile(${q},`) && e.includes('route'))).toBe(true);
    expect(exprs.some((e) => e.includes('is_enough="true"'))).toBe(true);
    const dash = readJson<Dashboard>('grafana/dashboards/workemon-overview.json');
    const logs = allPanels(dash).filter((p) => p.type === 'logs');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs[0]!.datasource?.type).toBe('elasticsearch');
    expect(logs[0]!.targets?.[0]?.query).toContain('trace.id');
    expect(dash.links?.some((l) => l.url?.includes('/app/discover') && l.url.includes('trace.id'))).toBe(
      true,
    );
  });

  it('when the provisioning files are read, then datasources point at the compose services and dashboards are loaded from the mounted dir', () => {
    const ds = datasources();
    expect(ds.find((d) => d.type === 'prometheus')?.url).toBe('http://prometheus:9090');
    const es = ds.find((d) => d.type === 'elasticsearch')!;
    expect(es.url).toBe('http://elasticsearch:9200');
    expect(es.jsonData?.timeField).toBe('@timestamp');
    expect(String(es.jsonData?.index)).toMatch(/^filebeat-/);
    const provider = readYaml<{ providers: { options: { path: string } }[] }>(
      'grafana/provisioning/dashboards/workemon.yml',
    ).providers[0]!;
    expect(readText('docker-compose.yml')).toContain(`./grafana/dashboards:${provider.options.path}`);
  });
});
