// `pnpm bench:console`: the operators' inbox with 100 000 exchanges in the database. Fills
// secretary.requests (the inbox trigger keeps secretary.inbox_threads current, as in production),
// starts the real secretary, and measures GET /operator/conversations — the first page, filtered
// pages, a second page and searches (a name, a directory name, a rare, a frequent and a common
// text, a text found nowhere) — at the server (its own http_server_request_duration_seconds is not
// per request, so the figure is the loopback round trip, an upper bound) and in Postgres (EXPLAIN
// ANALYZE of the first page's query). Target: the first page and every search in ≤ 150 ms. Prints
// figures; this is not a timed test.
//
//   BENCH_EXCHANGES (100000)   BENCH_PEOPLE (20000)   BENCH_SAMPLES (100)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTestDatabase, freePort } from '@workemon/testkit';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'bench-console-service-token-0123456789';
const EXCHANGES = Number(process.env.BENCH_EXCHANGES ?? 100_000);
const PEOPLE = Number(process.env.BENCH_PEOPLE ?? 20_000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100);
const TARGET_MS = 150;

const secretaryDir = join(root, 'services/secretary');
if (!existsSync(join(secretaryDir, 'dist/main.js'))) {
  console.error('run `pnpm build` first');
  process.exit(1);
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const db = await createTestDatabase('wm_bench_console');
let secretary;
try {
  const migrated = spawnSync(process.execPath, ['dist/migrate.js'], {
    cwd: secretaryDir,
    env: { ...process.env, DATABASE_URL: db.url },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) throw new Error(`migration failed: ${migrated.stderr}`);

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  let started = performance.now();
  // Directory entries for half the people; exchanges spread over channels, states and 30 days.
  await client.query(`
    INSERT INTO secretary.users (username, display_name, department, position, source)
    SELECT 'person' || g || '@corp.example', 'Сотрудник ' || g, 'Департамент ' || (g % 12), 'аналитик', 'file'
    FROM generate_series(1, ${Math.floor(PEOPLE / 2)}) g`);
  await client.query(`
    INSERT INTO secretary.requests
      (created_at, completed_at, trace_id, channel, username, message_id, text, status, is_enough, action,
       question, response, model)
    SELECT ts, ts + interval '2 seconds', md5(g::text),
      CASE WHEN g % 3 = 0 THEN 'tg' ELSE 'email' END,
      CASE WHEN g % 3 = 0 THEN 'tg:' || (g % ${PEOPLE}) ELSE 'person' || (g % ${PEOPLE}) || '@corp.example' END,
      '<bench-' || g || '@corp.example>',
      'Обращение номер ' || g || ': нужна аналитика по операциям кошельков за период',
      CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'completed' END,
      g % 7 <> 0,
      CASE WHEN g % 7 = 0 THEN 'уточнить' WHEN g % 23 = 0 THEN 'написать в telegram сотруднику'
           WHEN g % 3 = 0 THEN 'ответить сообщением' ELSE 'ответить на письмо' END,
      CASE WHEN g % 7 = 0 THEN 'Уточните, за какой период?' ELSE '' END,
      'Рекомендация: обратитесь к аналитическому кубу.',
      'bench-model'
    FROM (SELECT g, now() - (${EXCHANGES} - g) * interval '25 seconds' AS ts
          FROM generate_series(1, ${EXCHANGES}) g) s`);
  await client.query('ANALYZE secretary.requests; ANALYZE secretary.inbox_threads; ANALYZE secretary.users');
  const { rows: counts } = await client.query(
    `SELECT (SELECT count(*) FROM secretary.requests) AS exchanges,
            (SELECT count(*) FROM secretary.inbox_threads) AS conversations`,
  );
  console.log(
    `filled ${counts[0].exchanges} exchanges in ${counts[0].conversations} conversations in ${Math.round(performance.now() - started)} ms`,
  );

  const port = await freePort();
  secretary = spawn(process.execPath, ['dist/main.js'], {
    cwd: secretaryDir,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      SERVICE_TOKEN: TOKEN,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health/live`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error('secretary did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const get = async (path) => {
    const t = performance.now();
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - t, body };
  };
  const firstPage = await get('/operator/conversations?limit=50');
  const cases = [
    ['first page (50, newest first)', '/operator/conversations?limit=50'],
    ['second page (cursor)', `/operator/conversations?limit=50&cursor=${firstPage.body.next_cursor}`],
    ['state=escalated', '/operator/conversations?limit=50&state=escalated'],
    ['state=failed, channel=tg', '/operator/conversations?limit=50&state=failed&channel=tg'],
    ['search q=person777 (name/address)', '/operator/conversations?limit=50&q=person777'],
    [
      'search q=Сотрудник 4321 (directory name)',
      `/operator/conversations?limit=50&q=${encodeURIComponent('Сотрудник 4321')}`,
    ],
    [
      'search rare text (one message)',
      `/operator/conversations?limit=50&q=${encodeURIComponent('номер 77777:')}`,
    ],
    ['search text in 11% of messages', `/operator/conversations?limit=50&q=${encodeURIComponent('номер 1')}`],
    [
      'search common text (every message)',
      `/operator/conversations?limit=50&q=${encodeURIComponent('кошельков')}`,
    ],
    [
      'search text absent everywhere',
      `/operator/conversations?limit=50&q=${encodeURIComponent('бирюзовый')}`,
    ],
    ['escalations queue (oldest first)', '/operator/escalations?limit=50'],
    ['changes (live poll)', '/operator/changes'],
  ];
  console.log(`\nGET at the secretary (loopback round trip, ${SAMPLES} samples after 10 warm-up):`);
  let firstPageP95 = Infinity;
  let searchP95 = 0;
  for (const [name, path] of cases) {
    for (let i = 0; i < 10; i++) await get(path);
    const times = [];
    let items = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const { ms, body } = await get(path);
      times.push(ms);
      items = body.items?.length ?? 0;
    }
    times.sort((a, b) => a - b);
    const p50 = percentile(times, 50);
    const p95 = percentile(times, 95);
    if (path === '/operator/conversations?limit=50') firstPageP95 = p95;
    if (path.includes('q=')) searchP95 = Math.max(searchP95, p95);
    console.log(
      `  ${name.padEnd(42)} p50 ${p50.toFixed(1).padStart(6)} ms   p95 ${p95.toFixed(1).padStart(6)} ms   max ${times.at(-1).toFixed(1).padStart(6)} ms   (${items} items)`,
    );
  }

  started = performance.now();
  const plan = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON)
    SELECT t.channel, t.username, u.display_name, u.department, t.state, t.last_text, t.last_at
    FROM secretary.inbox_threads t LEFT JOIN secretary.users u ON u.username = t.username
    ORDER BY t.last_at DESC NULLS LAST, t.channel DESC NULLS LAST, t.username DESC NULLS LAST LIMIT 51`);
  const top = plan.rows[0]['QUERY PLAN'][0];
  console.log(
    `\nPostgres, first page query: execution ${top['Execution Time'].toFixed(2)} ms, planning ${top['Planning Time'].toFixed(2)} ms (${JSON.stringify(top.Plan['Node Type'])} over ${JSON.stringify(top.Plan.Plans?.[0]?.['Node Type'])})`,
  );
  await client.end();
  const verdict = (p95) => (p95 <= TARGET_MS ? 'MEETS' : 'MISSES');
  console.log(
    `\ninbox with ${EXCHANGES} exchanges, p95 at the server (target ≤ ${TARGET_MS} ms):` +
      `\n  first page      ${firstPageP95.toFixed(1).padStart(6)} ms — ${verdict(firstPageP95)}` +
      `\n  search (worst)  ${searchP95.toFixed(1).padStart(6)} ms — ${verdict(searchP95)}`,
  );
} finally {
  secretary?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  await db.drop().catch(() => {});
}
