#!/usr/bin/env node
// Generates grafana/dashboards/workemon-overview.json (committed). Edit the panels here, then run:
//   node scripts/ops/build-dashboard.mjs && npx prettier --write grafana/dashboards
// test/ops checks the committed JSON (schema, unique ids, metric names against live /metrics).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PROM = { type: 'prometheus', uid: 'workemon-prometheus' };
const ES = { type: 'elasticsearch', uid: 'workemon-elasticsearch' };
const KIBANA = 'http://localhost:5601';
const RATE = '$__rate_interval';
const SVC = 'service=~"$service"';

let nextId = 1;
let y = 0;
const panels = [];

function row(title) {
  panels.push({
    id: nextId++,
    type: 'row',
    title,
    collapsed: false,
    gridPos: { h: 1, w: 24, x: 0, y },
    panels: [],
  });
  y += 1;
}

let rowX = 0;
let rowH = 0;
function place(w, h) {
  if (rowX + w > 24) {
    y += rowH;
    rowX = 0;
    rowH = 0;
  }
  const pos = { h, w, x: rowX, y };
  rowX += w;
  rowH = Math.max(rowH, h);
  return pos;
}
function endRow() {
  y += rowH;
  rowX = 0;
  rowH = 0;
}

function target(expr, legendFormat, refId) {
  return { refId, datasource: PROM, expr, legendFormat, range: true };
}

function panel(
  type,
  title,
  targets,
  { w = 12, h = 8, unit, description, options, min, max, mappings, thresholds } = {},
) {
  const defaults = {};
  if (unit) defaults.unit = unit;
  if (min !== undefined) defaults.min = min;
  if (max !== undefined) defaults.max = max;
  if (mappings) defaults.mappings = mappings;
  if (thresholds) defaults.thresholds = thresholds;
  panels.push({
    id: nextId++,
    type,
    title,
    ...(description ? { description } : {}),
    datasource: PROM,
    gridPos: place(w, h),
    fieldConfig: { defaults, overrides: [] },
    options: options ?? {},
    targets: targets.map((t, i) => target(t[0], t[1], String.fromCharCode(65 + i))),
  });
}

const okFail = [
  {
    type: 'value',
    options: {
      0: { text: 'FAILING', color: 'red', index: 0 },
      1: { text: 'OK', color: 'green', index: 1 },
    },
  },
];
const redGreen = {
  mode: 'absolute',
  steps: [
    { color: 'red', value: null },
    { color: 'green', value: 1 },
  ],
};

// ---- Health ---------------------------------------------------------------------------------------------
row('Health');
panel(
  'stat',
  '/health probe (blackbox) per service',
  [['probe_success{job="workemon-health", ' + SVC + '}', '{{service}}']],
  {
    w: 8,
    h: 5,
    description: 'blackbox_exporter GET /health: OK only when the service answers 200 with "status":"ok".',
    mappings: okFail,
    thresholds: redGreen,
    options: {
      colorMode: 'background',
      graphMode: 'none',
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    },
  },
);
panel('stat', 'Scrape up per service', [['up{job="workemon", ' + SVC + '}', '{{service}}']], {
  w: 8,
  h: 5,
  mappings: okFail,
  thresholds: redGreen,
  options: {
    colorMode: 'background',
    graphMode: 'none',
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
  },
});
panel(
  'stat',
  'Dependency checks (health_check_status)',
  [['health_check_status{' + SVC + '}', '{{service}} {{check}}']],
  {
    w: 8,
    h: 5,
    mappings: okFail,
    thresholds: redGreen,
    options: {
      colorMode: 'background',
      graphMode: 'none',
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    },
  },
);
endRow();

// ---- HTTP -----------------------------------------------------------------------------------------------
row('HTTP');
panel(
  'timeseries',
  'Request rate by service',
  [[`sum by (service) (rate(http_server_request_duration_seconds_count{${SVC}}[${RATE}]))`, '{{service}}']],
  { w: 12, unit: 'reqps' },
);
panel(
  'timeseries',
  'Error rate (5xx share) by service',
  [
    [
      `sum by (service) (rate(http_server_request_duration_seconds_count{${SVC}, status_code=~"5.."}[${RATE}]))` +
        ` / sum by (service) (rate(http_server_request_duration_seconds_count{${SVC}}[${RATE}]))`,
      '{{service}}',
    ],
  ],
  { w: 12, unit: 'percentunit', min: 0 },
);
for (const [q, name] of [
  [0.5, 'p50'],
  [0.95, 'p95'],
  [0.99, 'p99'],
]) {
  panel(
    'timeseries',
    `Latency ${name} per route`,
    [
      [
        `histogram_quantile(${q}, sum by (service, route, le) (rate(http_server_request_duration_seconds_bucket{${SVC}, route!~"/metrics|/health.*"}[${RATE}])))`,
        '{{service}} {{route}}',
      ],
    ],
    { w: 8, unit: 's' },
  );
}
panel(
  'timeseries',
  'Requests by status code',
  [
    [
      `sum by (service, status_code) (rate(http_server_request_duration_seconds_count{${SVC}}[${RATE}]))`,
      '{{service}} {{status_code}}',
    ],
  ],
  { w: 12, unit: 'reqps' },
);
panel(
  'timeseries',
  'Upstream calls p95 by target',
  [
    [
      `histogram_quantile(0.95, sum by (service, target, le) (rate(upstream_request_duration_seconds_bucket{${SVC}}[${RATE}])))`,
      '{{service}} → {{target}}',
    ],
    [
      `sum by (service, target, outcome) (rate(upstream_request_duration_seconds_count{${SVC}, outcome!="success"}[${RATE}]))`,
      '{{service}} → {{target}} {{outcome}}/s',
    ],
  ],
  { w: 12, unit: 's' },
);
endRow();

// ---- LLM ------------------------------------------------------------------------------------------------
row('LLM');
panel(
  'timeseries',
  'LLM latency p50 / p95 by provider and model',
  [
    [
      `histogram_quantile(0.5, sum by (provider, model, le) (rate(llm_request_duration_seconds_bucket[${RATE}])))`,
      'p50 {{provider}}/{{model}}',
    ],
    [
      `histogram_quantile(0.95, sum by (provider, model, le) (rate(llm_request_duration_seconds_bucket[${RATE}])))`,
      'p95 {{provider}}/{{model}}',
    ],
  ],
  { w: 8, unit: 's' },
);
panel(
  'timeseries',
  'LLM calls by outcome',
  [
    [
      `sum by (service, provider, model, outcome) (rate(llm_request_duration_seconds_count[${RATE}]))`,
      '{{service}} {{provider}}/{{model}} {{outcome}}',
    ],
  ],
  { w: 8, unit: 'reqps' },
);
panel(
  'timeseries',
  'LLM tokens by provider, model and kind',
  [[`sum by (provider, model, kind) (rate(llm_tokens_total[${RATE}]))`, '{{provider}}/{{model}} {{kind}}']],
  { w: 8, unit: 'short', description: 'Tokens per second (prompt / completion).' },
);
endRow();

// ---- Analysis and channels --------------------------------------------------------------------------------
row('Analysis and channels');
panel(
  'timeseries',
  'Analyses by action and channel',
  [[`sum by (channel, action) (rate(analysis_total[${RATE}]))`, '{{channel}} {{action}}']],
  { w: 8, unit: 'reqps' },
);
panel(
  'stat',
  'is_enough ratio',
  [
    [
      `sum(rate(analysis_total{is_enough="true"}[${RATE}])) / sum(rate(analysis_total[${RATE}]))`,
      'is_enough',
    ],
  ],
  {
    w: 4,
    unit: 'percentunit',
    min: 0,
    max: 1,
    description: 'Share of requests the guesser found complete (the rest got a clarifying question).',
  },
);
panel(
  'timeseries',
  'Channel messages by outcome',
  [[`sum by (channel, outcome) (rate(channel_messages_total[${RATE}]))`, '{{channel}} {{outcome}}']],
  { w: 12, unit: 'short' },
);
panel(
  'timeseries',
  'Ingest ledger backlog by status',
  [['sum by (status) (communicator_ledger_backlog)', '{{status}}']],
  {
    w: 8,
    unit: 'short',
  },
);
panel(
  'stat',
  'Quarantined messages (last 24h)',
  [['sum(increase(communicator_quarantined_total[24h]))', 'quarantined']],
  {
    w: 4,
    unit: 'short',
    thresholds: {
      mode: 'absolute',
      steps: [
        { color: 'green', value: null },
        { color: 'red', value: 1 },
      ],
    },
  },
);
panel(
  'timeseries',
  'IMAP: seconds since last successful poll, poll p95',
  [
    ['time() - max(communicator_imap_last_poll_timestamp_seconds > 0)', 'since last poll'],
    [
      `histogram_quantile(0.95, sum by (le) (rate(communicator_imap_poll_duration_seconds_bucket[${RATE}])))`,
      'poll p95',
    ],
  ],
  { w: 6, unit: 's' },
);
panel(
  'timeseries',
  'Reply latency p95 (message in → reply out)',
  [
    [
      `histogram_quantile(0.95, sum by (channel, le) (rate(communicator_reply_latency_seconds_bucket[${RATE}])))`,
      '{{channel}}',
    ],
  ],
  { w: 6, unit: 's' },
);
panel(
  'timeseries',
  'Ledger: stuck work (rows held by a dead owner, oldest unanswered message)',
  [
    ['max(communicator_ledger_orphaned_rows)', 'rows whose owner stopped beating'],
    ['max(communicator_ledger_oldest_open_seconds) / 60', 'oldest open message (min)'],
  ],
  {
    w: 6,
    unit: 'short',
    description:
      'Orphaned rows are taken over within COMMUNICATOR_LEASE_MS (10 s); a lasting value means no dispatcher runs. The oldest open message grows during an outage (retried, never counted).',
  },
);
panel(
  'timeseries',
  'Ledger: take-overs, failed heartbeats, failures by kind',
  [
    [`sum by (channel) (increase(communicator_ledger_takeovers_total[${RATE}]))`, 'take-over {{channel}}'],
    [
      `sum by (outcome) (increase(communicator_ledger_heartbeats_total{outcome!="ok"}[${RATE}]))`,
      'heartbeat {{outcome}}',
    ],
    [`sum by (kind) (increase(communicator_ledger_failures_total[${RATE}]))`, 'failure {{kind}}'],
  ],
  {
    w: 6,
    unit: 'short',
    description:
      'Take-overs: rows of a process that died. Failures: outage (retried, never counted), message (counts an attempt), permanent (quarantined at once).',
  },
);
panel(
  'timeseries',
  'Interrupted sends: checked before resending, ambiguous resends',
  [
    [
      `sum by (channel, result) (increase(communicator_sent_checks_total[${RATE}]))`,
      'check {{channel}} {{result}}',
    ],
    [`sum by (channel) (increase(channel_ambiguous_sends_total[${RATE}]))`, 'ambiguous resend {{channel}}'],
    [`sum(increase(communicator_mail_parse_crashes_total[${RATE}]))`, 'mail parse crashes'],
  ],
  {
    w: 6,
    unit: 'short',
    description:
      'A reply interrupted by a crash is looked up (mail: sent folder by Message-ID) before any resend; Telegram cannot be checked, so its resends are counted as ambiguous.',
  },
);
panel(
  'timeseries',
  'Follow-ups: Jira issues and escalations (outcomes, waiting)',
  [
    [`sum by (kind, outcome) (increase(follow_ups_total[${RATE}]))`, '{{kind}} {{outcome}}'],
    ['max by (kind) (follow_ups_pending)', '{{kind}} waiting'],
  ],
  {
    w: 12,
    unit: 'short',
    description:
      'Work the secretary does after an exchange (stored with it, so never lost): Jira issues and support-chat escalations. Retries back off and honour Retry-After.',
  },
);
endRow();

// ---- Knowledge base ---------------------------------------------------------------------------------------
row('Knowledge base (secretary)');
panel(
  'timeseries',
  'Knowledge search latency',
  [
    [`histogram_quantile(0.5, sum by (le) (rate(knowledge_search_duration_seconds_bucket[${RATE}])))`, 'p50'],
    [
      `histogram_quantile(0.95, sum by (le) (rate(knowledge_search_duration_seconds_bucket[${RATE}])))`,
      'p95',
    ],
  ],
  {
    w: 8,
    unit: 's',
    description: 'Searches of the knowledge base (API and answer grounding); target p95 ≤ 50 ms.',
  },
);
panel(
  'timeseries',
  'Sources per answer',
  [
    [
      `sum(rate(knowledge_answer_sources_sum[${RATE}])) / sum(rate(knowledge_answer_sources_count[${RATE}]))`,
      'mean sources',
    ],
    [
      `1 - sum(rate(knowledge_answer_sources_bucket{le="0"}[${RATE}])) / sum(rate(knowledge_answer_sources_count[${RATE}]))`,
      'share of grounded answers',
    ],
  ],
  {
    w: 8,
    unit: 'short',
    description:
      'Knowledge documents passed to the analyst per answer; an ungrounded answer says so to the person.',
  },
);
panel('stat', 'Knowledge documents', [['max(knowledge_documents)', 'documents']], {
  w: 8,
  unit: 'short',
  description: 'Documents in the knowledge base (file sync and API).',
});
endRow();

// ---- Crash safety: owned, heartbeated work ------------------------------------------------------------
row('Crash safety (secretary)');
panel(
  'timeseries',
  'Exchanges: pending and in flight',
  [
    ['max(exchanges_pending)', 'pending (all replicas)'],
    [`sum by (instance) (exchanges_in_flight{${SVC}})`, 'in flight {{instance}}'],
  ],
  {
    w: 8,
    unit: 'short',
    description:
      'pending rows of secretary.requests: being analysed, or left by a dead owner until a retry or the sweep finishes them (~OWNER_TIMEOUT_MS).',
  },
);
panel('stat', 'Oldest pending exchange', [['max(exchange_oldest_pending_seconds)', 'oldest']], {
  w: 4,
  unit: 's',
  thresholds: {
    mode: 'absolute',
    steps: [
      { color: 'green', value: null },
      { color: 'orange', value: 60 },
      { color: 'red', value: 300 },
    ],
  },
});
panel(
  'timeseries',
  "Take-overs of dead owners' work",
  [
    [`sum by (by) (increase(exchange_takeovers_total[${RATE}]))`, 'exchange by {{by}}'],
    [`sum by (kind) (increase(follow_up_takeovers_total[${RATE}]))`, 'follow-up {{kind}}'],
  ],
  {
    w: 6,
    unit: 'short',
    description:
      'Work whose owner stopped heartbeating (crash, OOM kill, lost database), finished or taken over by a retry, the sweep or another replica.',
  },
);
panel(
  'timeseries',
  'Heartbeat rounds',
  [[`sum by (outcome) (rate(exchange_heartbeats_total[${RATE}]))`, '{{outcome}}']],
  { w: 6, unit: 'ops' },
);
endRow();

// ---- Runtime --------------------------------------------------------------------------------------------
row('Runtime');
panel('timeseries', 'Resident memory', [[`process_resident_memory_bytes{${SVC}}`, '{{service}}']], {
  w: 8,
  unit: 'bytes',
});
panel('timeseries', 'CPU', [[`rate(process_cpu_seconds_total{${SVC}}[${RATE}])`, '{{service}}']], {
  w: 8,
  unit: 'percentunit',
});
panel(
  'timeseries',
  'Event-loop lag',
  [
    [`nodejs_eventloop_lag_seconds{${SVC}}`, '{{service}}'],
    [`nodejs_eventloop_lag_p99_seconds{${SVC}}`, '{{service}} p99'],
  ],
  { w: 8, unit: 's' },
);
endRow();

// ---- Logs -----------------------------------------------------------------------------------------------
row('Logs');
panels.push({
  id: nextId++,
  type: 'logs',
  title: 'Logs (Elasticsearch) — filter by $trace_id',
  description:
    'ECS log lines shipped by Filebeat. Set the trace_id variable (the x-request-id) to follow one request across every service; click trace.id to open it in Kibana.',
  datasource: ES,
  gridPos: place(24, 12),
  options: { showTime: true, wrapLogMessage: true, sortOrder: 'Descending', enableLogDetails: true },
  targets: [
    {
      refId: 'A',
      datasource: ES,
      query: 'trace.id:$trace_id',
      metrics: [{ id: '1', type: 'logs' }],
      bucketAggs: [],
      timeField: '@timestamp',
    },
  ],
});
endRow();

const dashboard = {
  uid: 'workemon-overview',
  title: 'Workemon — overview',
  description:
    'Health, HTTP, LLM, channels and runtime of the four Workemon services (docs/architecture.md, Observability).',
  tags: ['workemon'],
  editable: true,
  graphTooltip: 1,
  schemaVersion: 39,
  version: 1,
  refresh: '30s',
  timezone: 'browser',
  time: { from: 'now-6h', to: 'now' },
  timepicker: {},
  fiscalYearStartMonth: 0,
  liveNow: false,
  annotations: {
    list: [
      {
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      },
    ],
  },
  links: [
    {
      title: 'Kibana: logs of trace $trace_id',
      type: 'link',
      icon: 'external link',
      tooltip: 'Open every service log line of one request (trace.id = x-request-id) in Kibana Discover',
      url: `${KIBANA}/app/discover#/?_a=(query:(language:kuery,query:'trace.id:"$trace_id"'))`,
      targetBlank: true,
      asDropdown: false,
      includeVars: false,
      keepTime: true,
      tags: [],
    },
  ],
  templating: {
    list: [
      {
        name: 'service',
        label: 'Service',
        type: 'query',
        datasource: PROM,
        query: { query: 'label_values(up{job="workemon"}, service)', refId: 'service' },
        definition: 'label_values(up{job="workemon"}, service)',
        includeAll: true,
        multi: true,
        allValue: '.*',
        current: { selected: true, text: ['All'], value: ['$__all'] },
        refresh: 2,
        sort: 1,
        hide: 0,
        options: [],
      },
      {
        name: 'trace_id',
        label: 'trace.id (x-request-id)',
        type: 'textbox',
        query: '*',
        current: { text: '*', value: '*' },
        hide: 0,
        options: [],
      },
    ],
  },
  panels,
};

const out = fileURLToPath(new URL('../../grafana/dashboards/workemon-overview.json', import.meta.url));
writeFileSync(out, JSON.stringify(dashboard, null, 2) + '\n');
console.log(`wrote ${out} (${panels.length} panels)`);
