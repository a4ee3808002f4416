// `pnpm eval:knowledge`: how well the secretary's knowledge search finds the right document.
// Loads the example pack (services/secretary/knowledge-pack) into a fresh embedded database (PGlite in its
// own process, as `pnpm start` runs it; KNOWLEDGE_EVAL_DB=postgres uses the local PostgreSQL), asks the
// golden questions (bench/knowledge-golden-set.json) and prints recall@1/3/5 and MRR per kind, then pads
// the base to 1 000 documents with generated near-neighbour documents and prints search latency p50/p95
// (and the same quality table, as a robustness figure). Prints figures; judges them against the targets.
//
//   KNOWLEDGE_EVAL_DB=pglite|postgres (pglite)   KNOWLEDGE_EVAL_DOCS (1000)   KNOWLEDGE_EVAL_ROUNDS (5)
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createServiceMetrics } from '@workemon/http-kit';
import { createLogger } from '@workemon/logger';
import { createKnowledge, EXAMPLE_KNOWLEDGE_DIR } from '@workemon/secretary/knowledge';
import { runMigrations } from '@workemon/secretary/migrate';
import { createTestDatabase } from '@workemon/testkit';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const golden = JSON.parse(readFileSync(join(root, 'bench/knowledge-golden-set.json'), 'utf8')).questions;
const TARGET_DOCS = Number(process.env.KNOWLEDGE_EVAL_DOCS ?? 1000);
const ROUNDS = Number(process.env.KNOWLEDGE_EVAL_ROUNDS ?? 5);
const MIN_SCORE = Number(process.env.KNOWLEDGE_MIN_SCORE ?? 0.5);
const out = (line = '') => process.stdout.write(`${line}\n`);

async function openDatabase() {
  if (process.env.KNOWLEDGE_EVAL_DB === 'postgres') {
    const db = await createTestDatabase('wm_kn_eval');
    return { url: db.url, label: 'PostgreSQL', close: () => db.drop() };
  }
  const child = spawn(process.execPath, [join(root, 'bench/pglite-process.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((done, fail) => {
    let buffer = '';
    child.stdout.on('data', (d) => {
      buffer += d;
      const line = buffer.split('\n')[0];
      if (buffer.includes('\n')) done(JSON.parse(line).url);
    });
    child.on('exit', (code) => fail(new Error(`PGlite process exited (${code})`)));
  });
  return {
    url,
    label: 'embedded PGlite (own process)',
    close: () =>
      new Promise((done) => {
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

/** One golden question's outcome: rank of the first expected document (0: not in the top 5). */
async function evaluate(knowledge) {
  const rows = [];
  for (const item of golden) {
    const hits = await knowledge.retriever.search(item.q, 5);
    const ids = hits.map((h) => h.id);
    const rank =
      item.expected.length === 0
        ? ids.length === 0
          ? 1
          : 0
        : ids.findIndex((id) => item.expected.includes(id)) + 1;
    rows.push({ ...item, ids, rank });
  }
  return rows;
}

function table(rows) {
  const kinds = [...new Set(rows.map((r) => r.kind)), 'all'];
  const pad = (s, n) => String(s).padEnd(n);
  out(
    `${pad('kind', 12)}${pad('n', 5)}${pad('recall@1', 10)}${pad('recall@3', 10)}${pad('recall@5', 10)}MRR`,
  );
  const summary = {};
  for (const kind of kinds) {
    const set = kind === 'all' ? rows : rows.filter((r) => r.kind === kind);
    const at = (k) => set.filter((r) => r.rank >= 1 && r.rank <= k).length / set.length;
    const mrr = set.reduce((s, r) => s + (r.rank ? 1 / r.rank : 0), 0) / set.length;
    summary[kind] = { r1: at(1), r3: at(3), r5: at(5), mrr };
    out(
      `${pad(kind, 12)}${pad(set.length, 5)}${pad(at(1).toFixed(2), 10)}${pad(at(3).toFixed(2), 10)}${pad(at(5).toFixed(2), 10)}${mrr.toFixed(2)}`,
    );
  }
  const misses = rows.filter((r) => r.rank === 0 || r.rank > 3);
  if (misses.length) {
    out('misses (rank > 3): expected → got');
    for (const m of misses)
      out(
        `  [${m.kind}] «${m.q}»: ${m.expected.join('|') || '(nothing)'} → ${m.ids.join(', ') || '(nothing)'}`,
      );
  }
  return summary;
}

/** Generated documents built from the pack's own sentences: near neighbours, not noise. */
function generatedDocuments(count, sentences, titles) {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = (list) => list[Math.floor(random() * list.length)];
  const docs = [];
  for (let i = 0; i < count; i++) {
    const sections = Array.from(
      { length: 3 },
      (_, s) =>
        `## Раздел ${s + 1}: ${pick(titles).toLowerCase()}\n\n${Array.from({ length: 4 }, () => pick(sentences)).join(' ')}`,
    );
    docs.push({
      id: `generated-${String(i).padStart(4, '0')}`,
      title: `Заметка ${i}: ${pick(titles)} и ${pick(titles).toLowerCase()}`,
      body: sections.join('\n\n'),
    });
  }
  return docs;
}

const database = await openDatabase();
const dir = mkdtempSync(join(tmpdir(), 'wm-kn-eval-'));
try {
  await runMigrations(database.url);
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const logger = createLogger({ service: 'knowledge-eval', version: '0', level: 'warn' });
  const knowledge = createKnowledge(
    {
      KNOWLEDGE_DIR: EXAMPLE_KNOWLEDGE_DIR,
      KNOWLEDGE_MAX_DOCUMENT_CHARS: 100_000,
      KNOWLEDGE_MIN_SCORE: MIN_SCORE,
      KNOWLEDGE_PASSAGES: 4,
    },
    { pool },
    createServiceMetrics('knowledge-eval', '0'),
    logger,
  );
  const report = await knowledge.useCases.syncDirectory(EXAMPLE_KNOWLEDGE_DIR);
  out(`Knowledge search on ${database.label}; relevance floor KNOWLEDGE_MIN_SCORE=${MIN_SCORE}`);
  out(`Example pack: ${report.added.length} documents; golden set: ${golden.length} questions\n`);
  const quality = table(await evaluate(knowledge));

  // Pad to TARGET_DOCS with generated documents, then time searches.
  const pack = await pool.query(
    'select title, text from knowledge.passages p join knowledge.documents d on d.id = p.document_id',
  );
  const sentences = pack.rows
    .flatMap((r) => r.text.split(/(?<=[.!?])\s+/))
    .filter((s) => s.length > 30 && !s.startsWith('|'));
  const titles = [...new Set(pack.rows.map((r) => r.title))];
  const extra = Math.max(0, TARGET_DOCS - report.added.length);
  for (const d of generatedDocuments(extra, sentences, titles)) {
    writeFileSync(join(dir, `${d.id}.md`), `---\ntitle: ${JSON.stringify(d.title)}\n---\n${d.body}\n`);
  }
  // One directory holds the pack and the generated documents: a sync makes the base match it exactly.
  cpSync(EXAMPLE_KNOWLEDGE_DIR, join(dir, 'pack'), { recursive: true });
  const padded = await knowledge.useCases.syncDirectory(dir);
  const total = (await pool.query('select count(*)::int as n from knowledge.documents')).rows[0].n;
  const passages = (await pool.query('select count(*)::int as n from knowledge.passages')).rows[0].n;
  out(
    `\nWith ${total} documents (${passages} passages; ${padded.added.length} generated near neighbours added):`,
  );
  const withNeighbours = table(await evaluate(knowledge));
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const item of golden) {
      const started = performance.now();
      await knowledge.retriever.search(item.q, 5);
      times.push(performance.now() - started);
    }
  }
  const p50 = percentile(times, 50);
  const p95 = percentile(times, 95);
  out(`search latency over ${times.length} searches: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`);

  const verdicts = [
    [`recall@3 overall ≥ 0.85 (pack)`, quality.all.r3 >= 0.85, quality.all.r3.toFixed(2)],
    [
      `recall@3 ≥ 0.70 for every kind (pack)`,
      Object.entries(quality).every(([, v]) => v.r3 >= 0.7),
      Object.entries(quality)
        .map(([k, v]) => `${k} ${v.r3.toFixed(2)}`)
        .join(', '),
    ],
    [`search p95 ≤ 50 ms with ${total} documents`, p95 <= 50, `${p95.toFixed(1)} ms`],
  ];
  out('\ntargets:');
  for (const [name, ok, figure] of verdicts) out(`  ${ok ? 'PASS' : 'FAIL'}  ${name}: ${figure}`);
  out(`  (with ${total} documents: recall@3 overall ${withNeighbours.all.r3.toFixed(2)})`);
  await pool.end();
  process.exitCode = verdicts.every(([, ok]) => ok) ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
  await database.close();
}
