import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readYaml, repoPath, requireTool, run, SERVICES } from './support/repo.js';
import { metricNames, ruleQueries } from './support/promql.js';

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  params?: Record<string, string[]>;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  relabel_configs?: { source_labels?: string[]; target_label?: string; replacement?: string }[];
}
const prom = () => readYaml<{ scrape_configs: ScrapeConfig[]; rule_files: string[] }>('prometheus.yml');
const ruleFiles = () => readdirSync(repoPath('prometheus/rules')).filter((f) => /\.ya?ml$/.test(f));

describe('prometheus.yml, rules and blackbox.yml', () => {
  it('when promtool checks prometheus.yml, then it is valid and loads the rule files', () => {
    const r = run(requireTool('promtool'), ['check', 'config', 'prometheus.yml']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: [1-9]\d* rule files? found/);
  });

  it('when promtool checks every rules file, then each is valid', () => {
    expect(ruleFiles().length).toBeGreaterThan(0);
    for (const f of ruleFiles()) {
      const r = run(requireTool('promtool'), ['check', 'rules', `prometheus/rules/${f}`]);
      expect(r.code, `${f}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it('when the alert unit tests run (promtool test rules), then every alert fires exactly as expected', () => {
    const r = run(requireTool('promtool'), ['test', 'rules', 'test/ops/fixtures/rules.test.yml']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('when blackbox_exporter checks prometheus/blackbox.yml, then it is valid', () => {
    const r = run(requireTool('prometheus-blackbox-exporter'), [
      '--config.check',
      `--config.file=${repoPath('prometheus/blackbox.yml')}`,
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Config file is ok/);
    expect(r.stdout + r.stderr).not.toMatch(/deprecated/);
  });

  it('when the scrape configs are read, then every service /metrics is scraped at its default port', () => {
    const job = prom().scrape_configs.find((j) => j.job_name === 'workemon');
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
    const targets = Object.fromEntries(
      (job?.static_configs ?? []).flatMap((sc) => sc.targets.map((t) => [sc.labels?.service, t])),
    );
    for (const s of SERVICES) expect(targets[s.name]).toBe(`${s.name}:${s.port}`);
  });

  it('when the health probes are read, then every /health goes through blackbox with a module that requires "status":"ok"', () => {
    const job = prom().scrape_configs.find((j) => j.job_name === 'workemon-health')!;
    expect(job.metrics_path).toBe('/probe');
    const targets = Object.fromEntries(
      (job.static_configs ?? []).flatMap((sc) => sc.targets.map((t) => [sc.labels?.service, t])),
    );
    for (const s of SERVICES) expect(targets[s.name]).toBe(`http://${s.name}:${s.port}/health`);
    expect(job.relabel_configs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source_labels: ['__address__'], target_label: '__param_target' }),
        expect.objectContaining({ target_label: '__address__', replacement: 'blackbox-exporter:9115' }),
      ]),
    );
    const moduleName = job.params?.module?.[0] ?? '';
    const bb = readYaml<{
      modules: Record<string, { prober: string; http?: { fail_if_body_not_matches_regexp?: string[] } }>;
    }>('prometheus/blackbox.yml');
    const mod = bb.modules[moduleName];
    expect(mod?.prober).toBe('http');
    const regexps = (mod?.http?.fail_if_body_not_matches_regexp ?? []).map((r) => new RegExp(r));
    expect(regexps.length).toBeGreaterThan(0);
    const body = (status: string) =>
      JSON.stringify({ status, service: 'guesser', version: '0.1.0', uptimeSeconds: 3, checks: {} });
    expect(regexps.every((r) => r.test(body('ok')))).toBe(true);
    expect(regexps.every((r) => r.test(body('degraded')))).toBe(false);
    expect(regexps.every((r) => r.test(body('down')))).toBe(false);
  });

  it('when the alert rules are read, then each issue #4 alert exists with a severity and uses real metrics', () => {
    const names = new Set<string>();
    for (const f of ruleFiles()) {
      const doc = readYaml<{
        groups: {
          rules: { alert?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[];
        }[];
      }>('prometheus/rules', f);
      for (const r of doc.groups.flatMap((g) => g.rules)) {
        if (!r.alert) continue;
        names.add(r.alert);
        expect(['critical', 'warning'], r.alert).toContain(r.labels?.severity);
        expect(r.annotations?.summary, r.alert).toBeTruthy();
      }
    }
    for (const required of [
      'WorkemonServiceDown',
      'WorkemonHealthNotOk',
      'WorkemonHighErrorRate',
      'WorkemonHighLatencyP95',
      'WorkemonLlmErrors',
      'WorkemonMailIngestStale',
      'WorkemonLedgerBacklogGrowing',
      'WorkemonMessagesQuarantined',
    ])
      expect([...names]).toContain(required);
    const used = new Set(ruleQueries().queries.flatMap((q) => metricNames(q.expr)));
    for (const m of [
      'up',
      'probe_success',
      'http_server_request_duration_seconds_count',
      'llm_request_duration_seconds_count',
      'communicator_quarantined_total',
    ])
      expect([...used]).toContain(m);
  });
});

describe('PromQL metric-name extraction (used by the live cross-check)', () => {
  it('when an expression has functions, matchers, groupings, ranges and variables, then only metric names remain', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (service, route, le) (rate(http_server_request_duration_seconds_bucket{service=~"$service", route!~"/metrics|x"}[$__rate_interval])))',
      ),
    ).toEqual(['http_server_request_duration_seconds_bucket']);
    expect(
      metricNames(
        'time() - max(communicator_imap_last_poll_timestamp_seconds > 0) and on(service) up == 1',
      ).sort(),
    ).toEqual(['communicator_imap_last_poll_timestamp_seconds', 'up']);
    expect(
      metricNames(
        'sum(rate(analysis_total{is_enough="true"}[5m])) / sum(rate(analysis_total[5m])) > bool 0.5',
      ),
    ).toEqual(['analysis_total']);
    expect(
      metricNames('service:http_server_errors:rate5m / ignoring(x) group_left(y) other_metric offset 5m'),
    ).toEqual(['service:http_server_errors:rate5m', 'other_metric']);
  });
});
