import { readdirSync } from 'node:fs';
import { readJson, readYaml, repoPath } from './repo.js';

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
]);

/**
 * Metric names a PromQL expression selects. Strings, label matchers, grouping clauses, range/subquery
 * brackets and Grafana variables are removed first; what is left that is an identifier and not a function
 * call or keyword is a metric name.
 */
export function metricNames(expr: string): string[] {
  let s = expr;
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ');
  s = s.replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  s = s.replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, ' ');
  // {__name__="x"} selectors carry the name in a matcher
  const byNameMatcher = [...expr.matchAll(/__name__\s*=\s*"([^"]+)"/g)].map((m) => m[1]!);
  const names = new Set<string>(byNameMatcher);
  for (const m of s.matchAll(/(^|[^A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)(?=\s*(\(?))/g)) {
    const name = m[2]!;
    const after = s.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith('(')) continue; // function call
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\d/.test(name)) continue;
    names.add(name);
  }
  return [...names];
}

export interface QuerySource {
  where: string;
  expr: string;
}

/** Every PromQL expression of every Grafana dashboard (Prometheus targets). */
export function dashboardQueries(): QuerySource[] {
  const out: QuerySource[] = [];
  for (const file of readdirSync(repoPath('grafana/dashboards')).filter((f) => f.endsWith('.json'))) {
    const dash = readJson<{ panels?: Panel[] }>('grafana/dashboards', file);
    const walk = (panels: Panel[] | undefined) => {
      for (const p of panels ?? []) {
        for (const t of p.targets ?? []) {
          if (typeof t.expr === 'string' && (t.datasource?.type ?? p.datasource?.type) !== 'elasticsearch') {
            out.push({ where: `${file} panel ${p.id} "${p.title}"`, expr: t.expr });
          }
        }
        walk(p.panels);
      }
    };
    walk(dash.panels);
  }
  return out;
}

interface Panel {
  id?: number;
  title?: string;
  datasource?: { type?: string };
  targets?: { expr?: string; datasource?: { type?: string } }[];
  panels?: Panel[];
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

/** Every alert and recording rule expression under prometheus/rules/, and the names rules record. */
export function ruleQueries(): { queries: QuerySource[]; recorded: Set<string> } {
  const queries: QuerySource[] = [];
  const recorded = new Set<string>();
  for (const file of readdirSync(repoPath('prometheus/rules')).filter((f) => /\.ya?ml$/.test(f))) {
    const rules = readYaml<RuleFile>('prometheus/rules', file);
    for (const g of rules.groups) {
      for (const r of g.rules) {
        if (r.record) recorded.add(r.record);
        queries.push({ where: `${file} ${r.alert ?? r.record}`, expr: String(r.expr) });
      }
    }
  }
  return { queries, recorded };
}

/** Metrics produced by Prometheus / blackbox_exporter themselves, not by a Workemon service. */
export const isScrapeSynthetic = (name: string) => name === 'up' || /^(probe_|scrape_)/.test(name);

/**
 * The metric names (and their declared type) in a Prometheus text exposition, from `# TYPE` lines — a
 * labelled metric with no observations yet has no samples but is still declared.
 */
export function exposedMetrics(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  for (const m of text.matchAll(/^([A-Za-z_:][A-Za-z0-9_:]*)(\{| )/gm))
    if (!out.has(m[1]!)) out.set(m[1]!, 'untyped');
  return out;
}

/** Whether a queried name (possibly a histogram/summary series like x_bucket) is exposed. */
export function isExposed(name: string, exposed: Map<string, string>): boolean {
  if (exposed.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (!m) return false;
  const type = exposed.get(m[1]!);
  if (type === 'histogram') return true;
  return type === 'summary' && m[2] !== 'bucket';
}

/** All metric names used by dashboards and rules, minus recorded ones. */
export function requiredMetricNames(): Map<string, string[]> {
  const { queries, recorded } = ruleQueries();
  const all = [...dashboardQueries(), ...queries];
  const out = new Map<string, string[]>();
  for (const q of all) {
    for (const name of metricNames(q.expr)) {
      if (recorded.has(name)) continue;
      out.set(name, [...(out.get(name) ?? []), q.where]);
    }
  }
  return out;
}
