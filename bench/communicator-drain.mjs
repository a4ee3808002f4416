// Drains a backlog of N mails from a real Dovecot through the whole mesh
// (communicator → secretary → guesser + analyst → fake LLM at D ms per call)
// and prints the drain time beside the floor N × 2 × D / C for the same run
// (two LLM calls per mail, C mails in flight), with a breakdown of where the
// time beyond the floor went.
//
//   node bench/communicator-drain.mjs [--mails 1000] [--concurrency 8] [--llm-delay 200]
//
// C defaults to COMMUNICATOR_CONCURRENCY (8). The communicator is started and
// ready (IMAP connected) before the backlog lands in the Maildir; the clock
// runs from delivery until the SMTP sink holds N replies.
// Needs: `pnpm build`, dovecot (scripts/setup-test-peers.sh), PostgreSQL
// (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createTestDatabase,
  freePort,
  queryRows,
  startDovecot,
  startFakeLlm,
  startSmtpSink,
  waitFor,
} from '@workemon/testkit';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
  return value;
};
const MAILS = arg('mails', 1000);
const CONCURRENCY = arg('concurrency', Number(process.env.COMMUNICATOR_CONCURRENCY ?? 8));
const LLM_DELAY_MS = arg('llm-delay', 200);
const TOKEN = 'bench-service-token-0123456789';
const children = [];
// BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles every service of the run.
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

async function startService(service, env) {
  const port = await freePort();
  const child = spawn('node', [...nodeArgs, join(ROOT, 'services', service, 'dist', 'main.js')], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: String(port),
      SERVICE_TOKEN: TOKEN,
      API_KEYS: TOKEN,
      LOG_LEVEL: 'warn',
      ...env,
    },
    cwd: join(ROOT, 'services', service),
    stdio: ['ignore', 'ignore', process.env.BENCH_VERBOSE ? 'inherit' : 'ignore'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${service} exited with ${child.exitCode}`);
    return (await fetch(`${url}/health/live`)).ok;
  }, 30_000);
  return url;
}

const ms = (n) => `${Math.round(n)} ms`;
const s = (n) => `${(n / 1000).toFixed(1)} s`;

const cleanup = [];
try {
  const [dovecot, sink, llm, db] = await Promise.all([
    startDovecot(),
    startSmtpSink(),
    startFakeLlm({ delayMs: LLM_DELAY_MS }),
    createTestDatabase('wm_bench_drain'),
  ]);
  cleanup.push(
    () => dovecot.stop(),
    () => sink.close(),
    () => llm.close(),
    () => db.drop(),
  );
  for (const svc of ['secretary', 'communicator']) {
    execFileSync('node', [join(ROOT, 'services', svc, 'dist', 'migrate.js')], {
      env: { ...process.env, DATABASE_URL: db.url },
    });
  }
  const llmEnv = { LLM_PROVIDER: 'custom', LLM_BASE_URL: llm.url, LLM_API_KEY: 'x', LLM_MODEL: 'fake-model' };
  const [guesser, analyst] = await Promise.all([
    startService('guesser', llmEnv),
    startService('system-analyst', llmEnv),
  ]);
  const secretary = await startService('secretary', {
    DATABASE_URL: db.url,
    GUESSER_URL: guesser,
    SYSTEM_ANALYST_URL: analyst,
  });
  const communicator = await startService('communicator', {
    DATABASE_URL: db.url,
    SECRETARY_URL: secretary,
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_TLS_REJECT_UNAUTHORIZED: 'false',
    IMAP_USER: 'support@example.test',
    IMAP_PASSWORD: 'secret',
    // IDLE announces the backlog at once; the poll is only the safety net.
    IMAP_POLL_INTERVAL_MS: '5000',
    SMTP_HOST: sink.host,
    SMTP_PORT: String(sink.port),
    SMTP_SECURE: 'false',
    COMMUNICATOR_CONCURRENCY: String(CONCURRENCY),
    MAIL_REPLY_RATE_PER_HOUR: '1000000',
  });
  await waitFor(async () => {
    const health = await (await fetch(`${communicator}/health`)).json();
    return health.checks?.imap?.status === 'ok' && health.checks?.database?.status === 'ok';
  }, 30_000);
  // A running service sits in IMAP IDLE between polls (it enters IDLE 1 s after a poll): let it.
  await new Promise((r) => setTimeout(r, 1_500));

  const raws = Array.from({ length: MAILS }, (_, i) =>
    [
      `From: user${i}@example.test`,
      'To: support@example.test',
      `Subject: bench ${i}`,
      `Message-ID: <bench-${i}@example.test>`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      `Хочу получать аналитику по операциям кошельков, запрос ${i}.`,
      '',
    ].join('\r\n'),
  );
  const startedAt = Date.now();
  const started = performance.now();
  dovecot.deliverMany('support@example.test', raws);
  await sink.waitForCount(MAILS, 30 * 60_000);
  const drainMs = performance.now() - started;
  const floorMs = (MAILS * 2 * LLM_DELAY_MS) / CONCURRENCY;
  const ratio = drainMs / floorMs;

  // Where the time went: ingest (IMAP → ledger), first reply, LLM slot use, per-stage latency.
  const [ledger] = await queryRows(
    db.url,
    `select extract(epoch from min(received_at)) * 1000 as first_in,
            extract(epoch from max(received_at)) * 1000 as last_in,
            extract(epoch from min(replied_at)) * 1000 as first_out,
            avg(extract(epoch from replied_at - answered_at) * 1000) as send_ms,
            count(*) filter (where status = 'replied')::int as replied,
            max(attempts)::int as max_attempts
       from communicator.inbound`,
  );
  const [stages] = await queryRows(
    db.url,
    `select avg((latency_ms->>'guesser_ms')::float) as guesser,
            avg((latency_ms->>'analyst_ms')::float) as analyst,
            avg((latency_ms->>'total_ms')::float) as total
       from secretary.requests`,
  );
  const llmBusyMs = llm.calls.length * LLM_DELAY_MS;
  const perMailSlotMs = (drainMs * CONCURRENCY) / MAILS;

  console.log(`communicator drain: ${MAILS} mails, C=${CONCURRENCY}, fake LLM ${LLM_DELAY_MS} ms per call`);
  console.log(`  drain time            ${s(drainMs)}`);
  console.log(`  floor (N×2×D/C)       ${s(floorMs)}`);
  console.log(`  ratio                 ${ratio.toFixed(3)}× (target ≤ 1.25×)`);
  console.log(`  throughput            ${(MAILS / (drainMs / 1000)).toFixed(1)} mails/s`);
  console.log(
    `  ingest                first in the ledger ${s(Number(ledger.first_in) - startedAt)}, all ${MAILS} ${s(Number(ledger.last_in) - startedAt)} after delivery`,
  );
  console.log(`  first reply           ${s(Number(ledger.first_out) - startedAt)} after delivery`);
  console.log(
    `  LLM slots busy        ${(((llmBusyMs / drainMs) * 100) / CONCURRENCY).toFixed(1)}% of ${CONCURRENCY} (${llm.calls.length} calls)`,
  );
  console.log(
    `  per mail per slot     ${ms(perMailSlotMs)} (LLM ${ms(2 * LLM_DELAY_MS)} + overhead ${ms(perMailSlotMs - 2 * LLM_DELAY_MS)})`,
  );
  console.log(
    `  secretary stages      guesser ${ms(stages.guesser)}, analyst ${ms(stages.analyst)}, total ${ms(stages.total)}`,
  );
  console.log(`  answered → replied    ${ms(ledger.send_ms)} (SMTP + ledger)`);
  console.log(
    JSON.stringify({
      bench: 'communicator-drain',
      mails: MAILS,
      concurrency: CONCURRENCY,
      llm_delay_ms: LLM_DELAY_MS,
      drain_ms: Math.round(drainMs),
      floor_ms: Math.round(floorMs),
      ratio: Number(ratio.toFixed(3)),
      mails_per_second: Number((MAILS / (drainMs / 1000)).toFixed(1)),
      llm_calls: llm.calls.length,
      replied_rows: ledger.replied,
      max_attempts: ledger.max_attempts,
    }),
  );
} finally {
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const fn of cleanup) await fn().catch(() => undefined);
}
