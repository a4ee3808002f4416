// `pnpm bench`: the secretary pipeline against a bare-express baseline of the same topology,
// in one run on this machine: CPU per answered request per process, throughput ratio, 500
// concurrent clients, readiness, `pnpm start`, idle memory. Prints every target's figure
// with its verdict. No timed tests: this is the only place performance is judged.
//
//   BENCH_DB=postgres|pglite|both (both)   BENCH_ROUNDS (3)   BENCH_REQUESTS (3000)
//   BENCH_CONCURRENCY (64)   BENCH_SKIP_START=1 (skip the `pnpm start` timing)
//   BENCH_ONLY_START=1 (only the `pnpm start` timing)
//   BENCH_SKIP_DRAIN=1 (skip the communicator backlog drain)   BENCH_LOG_LEVEL (info)
//   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles every process of the run
//   (`BUNDLE_SOURCEMAP=1 pnpm build` first writes source maps beside the bundles, so a profile's
//   positions can be traced back to the TypeScript sources).
//   BENCH_KEEP_LOGS=1 keeps the services' logs (stdout, one file each; kept anyway when the run fails).
//   BENCH_RUNTIME=none runs the services without the launcher's runtime settings
//   (SERVICE_RUNTIME_ENV and SERVICE_NODE_ARGS: allocator and V8 flags), to see what they cost and save.
// Services run as the launcher runs them: from their bundles (dist/bundle/), with its runtime settings.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { entryFile, SERVICE_NODE_ARGS, SERVICE_RUNTIME_ENV, withServiceRuntime } from '@workemon/launcher';
import { createTestDatabase, freePort, freePortBlock } from '@workemon/testkit';
import { runLoad } from './load.mjs';
import {
  busyShare,
  cpuDelta,
  cpuMs,
  cpuSnapshot,
  groupCpuMs,
  machineTicks,
  memoryParts,
  rssMb,
} from './proc-stat.mjs';

/** The bare baseline's CPU per answer in the quiet run the ms targets were last judged on (README, Performance). */
const REFERENCE_BASELINE_MS = 2.54;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const children = [];
const TOKEN = 'bench-service-token-0123456789abcdef';
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** Extra node arguments for the five services only (not the baseline or the fakes): for A/B runs. */
const meshNodeArgs = (process.env.BENCH_MESH_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** Extra node arguments for the embedded database's process only: for A/B runs and profiles. */
const pgliteNodeArgs = (process.env.BENCH_PGLITE_NODE_ARGS ?? '').split(' ').filter(Boolean);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withRuntime = process.env.BENCH_RUNTIME === 'none' ? (env) => env : withServiceRuntime;
const runtimeArgs = process.env.BENCH_RUNTIME === 'none' ? [] : SERVICE_NODE_ARGS;
/** The machine's load while a figure was taken: on a shared machine every wall time depends on it. */
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
const loads = [];
const noteLoad = (when) => {
  loads.push(loadavg()[0]);
  console.log(`   (load average ${load()} ${when})`);
};

/**
 * The services' log lines go to a file each, as the launcher lets them write straight to the
 * terminal: read through a pipe, they cost this process (the load generator) ~0.1 ms of CPU per
 * answer on the pipeline's side only. Kept when the run fails, removed when it passes.
 */
const logDir = mkdtempSync(join(tmpdir(), 'wm-bench-logs-'));

function start(name, file, env, cwd = root, runtime = (e) => e, args = [], logFile = undefined) {
  const out = logFile === undefined ? 'pipe' : openSync(join(logDir, `${logFile}.log`), 'a');
  const child = spawn(process.execPath, [...nodeArgs, ...args, file], {
    cwd,
    env: runtime({ ...process.env, ...env }),
    // Only the fake LLM takes commands; an IPC channel in a service would also keep V8's
    // memory reducer from ever running, which distorts its idle RSS by ~20 MB.
    stdio: name === 'fake-llm' ? ['ignore', out, 'pipe', 'ipc'] : ['ignore', out, 'pipe'],
  });
  if (typeof out === 'number') closeSync(out);
  children.push(child);
  child.stderr.on('data', (d) => {
    if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${d}`);
  });
  return child;
}

/** BENCH_MEMORY_DETAIL=1: where each service's memory is, at idle and every 3 s after the load. */
function memoryDetail(procs, when) {
  if (!process.env.BENCH_MEMORY_DETAIL) return;
  for (const [n, c] of Object.entries(procs)) {
    const { fds, ...parts } = memoryParts(c.pid);
    const mb = Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(1)}`);
    console.log(
      `     ${when.padEnd(9)} ${n.padEnd(16)} RSS ${rssMb(c.pid).toFixed(1)} MB: ${mb.join(', ')}; ${fds} fds`,
    );
  }
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((done) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 12_000);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}

async function firstLine(child) {
  return new Promise((resolveLine, reject) => {
    let buf = '';
    child.stdout.on('data', function onData(d) {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolveLine(buf.slice(0, i));
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}`)));
  });
}

/** Milliseconds from `since` until `url` answers 200; polled every 20 ms, bounded. */
async function waitReady(url, since, child, limitMs = 60_000) {
  while (performance.now() - since < limitMs) {
    if (child && child.exitCode !== null) throw new Error(`${url}: process exited ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) return performance.now() - since;
    } catch {
      /* not listening yet */
    }
    await sleep(20);
  }
  throw new Error(`${url} did not answer 200 within ${limitMs} ms`);
}

const fmt = (r) =>
  `${r.rps.toFixed(0).padStart(6)} req/s   p50 ${r.p50.toFixed(1).padStart(7)} ms   p99 ${r.p99.toFixed(1).padStart(7)} ms   (${r.requests} answered, ${r.errors} errors${r.errors ? ` ${JSON.stringify(r.statuses)}` : ''})`;
const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
const table = [];
const judge = (target, figure, ok, before = '') => {
  table.push({ target, figure, verdict: verdict(ok) });
  return `${figure}   ${verdict(ok)}${before}`;
};

async function startDatabase(kind) {
  if (kind === 'pglite') {
    const child = start('pglite', join(root, 'bench/pglite-process.mjs'), {}, root, (e) => e, pgliteNodeArgs);
    const { url } = JSON.parse(await firstLine(child));
    return {
      url,
      pids: async () => [child.pid],
      label: 'PGlite process',
      drop: () => stopChild(child),
      poolMax: process.env.DATABASE_POOL_MAX ?? '5',
    };
  }
  const db = process.env.BENCH_DATABASE_URL
    ? { url: process.env.BENCH_DATABASE_URL, drop: async () => {} }
    : await createTestDatabase('wm_bench');
  const probe = new pg.Client({ connectionString: db.url });
  await probe.connect();
  // The backends serving our database (one per pooled connection), not the shared server's others.
  const pids = async () =>
    (
      await probe.query(
        'select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      )
    ).rows.map((r) => r.pid);
  return {
    url: db.url,
    pids,
    label: 'postgres backends',
    drop: async () => {
      await probe.end().catch(() => {});
      await db.drop().catch(() => {});
    },
    poolMax: process.env.DATABASE_POOL_MAX,
  };
}

async function scenario(kind, { measureMemory }) {
  const db = await startDatabase(kind);
  const llmChild = start('fake-llm', join(root, 'bench/fake-llm-process.mjs'), {});
  const llm = JSON.parse(await firstLine(llmChild));
  const setDelay = (ms) => llmChild.send({ delayMs: ms });

  // --- the real mesh -------------------------------------------------------------
  const [pS, pG, pA, pC, pO] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const common = {
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    SERVICE_TOKEN: TOKEN,
    LLM_PROVIDER: 'custom',
    LLM_BASE_URL: llm.url,
    LLM_API_KEY: 'bench',
    LLM_MODEL: 'fake-model',
    DATABASE_URL: db.url,
    ...(db.poolMax ? { DATABASE_POOL_MAX: db.poolMax } : {}),
  };
  for (const service of ['secretary', 'communicator', 'console']) {
    const dir = join(root, 'services', service);
    const migrate = spawnSync(process.execPath, [entryFile(dir, 'migrate.js')], {
      cwd: dir,
      env: withRuntime({ ...process.env, ...common }),
      stdio: 'inherit',
    });
    if (migrate.status !== 0) throw new Error(`${service} migrations failed`);
  }
  // One at a time, so each start-up is measured without the others competing for the CPU.
  const ready = {};
  const readyCpu = {};
  const svc = async (name, dir, port, extra = {}) => {
    const since = performance.now();
    const child = start(
      name,
      entryFile(join(root, dir), 'main.js'),
      { ...common, PORT: String(port), ...extra },
      join(root, dir),
      withRuntime,
      [...runtimeArgs, ...meshNodeArgs],
      `${kind}-${name}`,
    );
    ready[name] = await waitReady(`http://127.0.0.1:${port}/health/ready`, since, child);
    // CPU spent until ready: unlike the wall time it does not grow when others load the machine.
    readyCpu[name] = cpuMs(child.pid);
    return child;
  };
  const guesser = await svc('guesser', 'services/guesser', pG);
  const analyst = await svc('system-analyst', 'services/system-analyst', pA);
  const secretary = await svc('secretary', 'services/secretary', pS, {
    GUESSER_URL: `http://127.0.0.1:${pG}`,
    SYSTEM_ANALYST_URL: `http://127.0.0.1:${pA}`,
  });
  const communicator = await svc('communicator', 'services/communicator', pC, {
    SECRETARY_URL: `http://127.0.0.1:${pS}`,
  });
  const consoleService = await svc('console', 'services/console', pO, {
    SECRETARY_URL: `http://127.0.0.1:${pS}`,
    COMMUNICATOR_URL: `http://127.0.0.1:${pC}`,
  });
  const secretaryUrl = `http://127.0.0.1:${pS}`;

  // --- the baseline ----------------------------------------------------------------
  const [bA, bB, bC] = [await freePort(), await freePort(), await freePort()];
  const bare = (role, port, env) =>
    start(`bare-${role}`, join(root, 'bench/bare-service.mjs'), {
      ROLE: role,
      PORT: String(port),
      LLM_URL: llm.url,
      ...env,
    });
  const bareChildren = [
    bare('entry', bA, { B_URL: `http://127.0.0.1:${bB}`, C_URL: `http://127.0.0.1:${bC}` }),
    bare('worker', bB, {}),
    bare('worker', bC, {}),
  ];
  await Promise.all(bareChildren.map(firstLine));
  const baselineUrl = `http://127.0.0.1:${bA}`;

  const services = { secretary, guesser, 'system-analyst': analyst, communicator, console: consoleService };
  const idle = {};
  const early = {};
  if (measureMemory) {
    // Idle means settled: V8's memory reducer shrinks the heap some 10–20 s after start-up's
    // allocations stop. Record the reading at 12 s and the settled one (lowest within 40 s).
    await sleep(12_000);
    for (const [n, c] of Object.entries(services)) idle[n] = early[n] = rssMb(c.pid);
    for (let s = 12; s < 40; s++) {
      await sleep(1_000);
      for (const [n, c] of Object.entries(services)) idle[n] = Math.min(idle[n], rssMb(c.pid));
    }
  }
  memoryDetail(services, 'idle');
  // The communicator and the console take no part in the load; stopping them keeps their database
  // work out of the figures.
  await stopChild(communicator);
  await stopChild(consoleService);

  const text = encodeURIComponent(
    'Я хочу получать аналитику о операциях наших кошельков, интересуют авторизации',
  );
  let seq = 0;
  const meshPath = () => `/analyze-request?channel=direct&username=bench${seq++}&request=${text}`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const total0 = Number(process.env.BENCH_REQUESTS ?? 3000);
  const conc0 = Number(process.env.BENCH_CONCURRENCY ?? 64);

  console.log(`\n=== database: ${kind} (${db.url.replace(/\/\/[^@]*@/, '//')}) ===`);
  noteLoad('after the services started');
  console.log(
    `ready (/health/ready 200 after process start, target ≤ 1500 ms): ${Object.entries(ready)
      .map(([n, ms]) => `${n} ${ms.toFixed(0)} ms (${readyCpu[n]?.toFixed(0)} ms CPU)`)
      .join(', ')}`,
  );

  // Warm-up: JIT, pools, keep-alive sockets.
  await runLoad({ url: secretaryUrl, headers: auth, concurrency: 16, total: 400, makePath: meshPath });
  await runLoad({ url: baselineUrl, concurrency: 16, total: 400, makePath: meshPath });

  // CPU per answered request, per process, from /proc/<pid>/stat around each round.
  const meshProcs = {
    secretary: async () => [secretary.pid],
    guesser: async () => [guesser.pid],
    'system-analyst': async () => [analyst.pid],
    [db.label]: db.pids,
  };
  const bareProcs = {
    'bare entry': async () => [bareChildren[0].pid],
    'bare worker 1': async () => [bareChildren[1].pid],
    'bare worker 2': async () => [bareChildren[2].pid],
  };
  const llmProc = async () => [llmChild.pid];
  const cpuTotals = {
    mesh: {},
    bare: {},
    meshLlm: 0,
    bareLlm: 0,
    meshBench: 0,
    bareBench: 0,
    meshAnswered: 0,
    bareAnswered: 0,
  };
  const measured = async (procs, side, load) => {
    const before = {};
    for (const [n, list] of Object.entries(procs)) before[n] = await cpuSnapshot(list);
    const llmBefore = await cpuSnapshot(llmProc);
    const machineBefore = machineTicks();
    const benchBefore = process.cpuUsage();
    const result = await load();
    // Was the round CPU-bound (the machine near 100 % busy), and what did the load generator spend?
    result.busy = busyShare(machineBefore, machineTicks());
    const benchUsage = process.cpuUsage(benchBefore);
    cpuTotals[`${side}Bench`] += (benchUsage.user + benchUsage.system) / 1000;
    for (const [n, list] of Object.entries(procs))
      cpuTotals[side][n] = (cpuTotals[side][n] ?? 0) + cpuDelta(before[n], await cpuSnapshot(list));
    cpuTotals[`${side}Llm`] += cpuDelta(llmBefore, await cpuSnapshot(llmProc));
    cpuTotals[`${side}Answered`] += result.requests - result.errors;
    return result;
  };

  // This machine's throughput drifts by ±15 % between minutes: the two sides alternate in
  // rounds and each round's paired ratio is judged (median of rounds).
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  console.log(
    `\n1) fake LLM at 0 ms, ${conc0} concurrent clients, ${rounds} alternating rounds of ${total0} requests each`,
  );
  const baseRounds = [];
  const meshRounds = [];
  for (let round = 0; round < rounds; round++) {
    const load = (url, headers) => () =>
      runLoad({ url, headers, concurrency: conc0, total: total0, maxSeconds: 60, makePath: meshPath });
    baseRounds.push(await measured(bareProcs, 'bare', load(baselineUrl, {})));
    meshRounds.push(await measured(meshProcs, 'mesh', load(secretaryUrl, auth)));
    console.log(
      `   round ${round + 1}: baseline ${baseRounds[round].rps.toFixed(0)} req/s, pipeline ${meshRounds[round].rps.toFixed(0)} req/s` +
        `, ratio ${((meshRounds[round].rps / baseRounds[round].rps) * 100).toFixed(1)} %` +
        ` (machine busy ${(baseRounds[round].busy * 100).toFixed(0)} % / ${(meshRounds[round].busy * 100).toFixed(0)} %)`,
    );
  }
  const median = (list) => [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)];
  console.log(`   bare express baseline : ${fmt(median(baseRounds))}   (median round)`);
  console.log(`   secretary pipeline    : ${fmt(median(meshRounds))}   (median round)`);
  const paired = baseRounds.map((b, i) => meshRounds[i].rps / b.rps).sort((a, b) => a - b);
  const ratio = paired[Math.floor(paired.length / 2)];
  const meshErrors = meshRounds.reduce((n, r) => n + r.errors, 0);
  console.log(
    `   throughput pipeline/baseline (median of paired rounds, target ≥ 75 %): ` +
      judge(`[${kind}] throughput at 0 ms vs baseline`, `${(ratio * 100).toFixed(1)} %`, ratio >= 0.75),
  );
  if (meshErrors > 0) console.log(`   !! ${meshErrors} pipeline requests failed at 0 ms`);

  const per = (ms, answered) => (answered > 0 ? ms / answered : NaN);
  console.log(`\n   CPU per answered request at 0 ms (ms of utime+stime / answered requests):`);
  let meshSum = 0;
  for (const [n, ms] of Object.entries(cpuTotals.mesh)) {
    const v = per(ms, cpuTotals.meshAnswered);
    meshSum += v;
    console.log(`     ${n.padEnd(20)} ${v.toFixed(2).padStart(6)} ms`);
  }
  let bareSum = 0;
  for (const ms of Object.values(cpuTotals.bare)) bareSum += per(ms, cpuTotals.bareAnswered);
  console.log(
    `     ${'baseline (3 procs)'.padEnd(20)} ${bareSum.toFixed(2).padStart(6)} ms   (${Object.entries(
      cpuTotals.bare,
    )
      .map(([n, ms]) => `${n} ${per(ms, cpuTotals.bareAnswered).toFixed(2)}`)
      .join(', ')})`,
  );
  console.log(
    `     ${'fake LLM'.padEnd(20)} ${per(cpuTotals.meshLlm, cpuTotals.meshAnswered).toFixed(2).padStart(6)} ms (pipeline), ` +
      `${per(cpuTotals.bareLlm, cpuTotals.bareAnswered).toFixed(2)} ms (baseline) — not counted`,
  );
  console.log(
    `     ${'load generator'.padEnd(20)} ${per(cpuTotals.meshBench, cpuTotals.meshAnswered).toFixed(2).padStart(6)} ms (pipeline), ` +
      `${per(cpuTotals.bareBench, cpuTotals.bareAnswered).toFixed(2)} ms (baseline) — not counted (this process)`,
  );
  const cpuTarget = kind === 'pglite' ? 5 : 4;
  console.log(
    `     sum of the four (target ≤ ${cpuTarget} ms): ` +
      judge(
        `[${kind}] CPU per answer (secretary+guesser+analyst+db)`,
        // The ratio to the baseline measured in the same rounds drifts far less than either figure.
        `${meshSum.toFixed(2)} ms (baseline ${bareSum.toFixed(2)} ms, ${(meshSum / bareSum).toFixed(2)}×)`,
        meshSum <= cpuTarget,
      ),
  );
  // The same target as a ratio: CPU milliseconds differ between machines (the bare baseline measured
  // 2.54 ms on the quiet machine the targets were judged on, 3.5 ms on a slower one), the ratio much less.
  const ratioTarget = cpuTarget / REFERENCE_BASELINE_MS;
  console.log(
    `     as a ratio to the baseline (target ≤ ${ratioTarget.toFixed(2)}×, i.e. ${cpuTarget} ms at a ${REFERENCE_BASELINE_MS} ms baseline): ` +
      judge(
        `[${kind}] CPU per answer / baseline's (≤ ${ratioTarget.toFixed(2)}×)`,
        `${(meshSum / bareSum).toFixed(2)}×`,
        meshSum / bareSum <= ratioTarget,
      ),
  );

  noteLoad('after the 0 ms rounds');
  setDelay(200);
  await sleep(200);
  console.log('\n2) fake LLM at 200 ms, 500 concurrent clients (two LLM calls = 400 ms floor)');
  await runLoad({ url: secretaryUrl, headers: auth, concurrency: 100, total: 200, makePath: meshPath });
  await runLoad({ url: baselineUrl, concurrency: 100, total: 200, makePath: meshPath });
  const base200 = await runLoad({
    url: baselineUrl,
    concurrency: 500,
    total: 1000,
    maxSeconds: 60,
    makePath: meshPath,
  });
  const mesh200 = await runLoad({
    url: secretaryUrl,
    headers: auth,
    concurrency: 500,
    total: 1000,
    maxSeconds: 60,
    makePath: meshPath,
  });
  console.log(`   bare express baseline : ${fmt(base200)}`);
  console.log(`   secretary pipeline    : ${fmt(mesh200)}`);
  console.log(
    `   errors (target 0): ` +
      judge(`[${kind}] errors at 500 concurrent, 200 ms LLM`, String(mesh200.errors), mesh200.errors === 0),
  );
  const p99Ratio = mesh200.p99 / base200.p99;
  console.log(
    `   p99 vs baseline's (target ≤ 1.2×): ` +
      judge(
        `[${kind}] p99 at 500 concurrent vs baseline`,
        `${p99Ratio.toFixed(2)}× (${mesh200.p99.toFixed(0)} vs ${base200.p99.toFixed(0)} ms)`,
        p99Ratio <= 1.2,
      ),
  );

  noteLoad('after the 500-client burst');
  for (const [n, ms] of Object.entries(ready))
    table.push({
      target: `[${kind}] ${n} /health/ready after start (≤ 1500 ms)`,
      figure: `${ms.toFixed(0)} ms (${readyCpu[n]?.toFixed(0)} ms CPU)`,
      verdict: verdict(ms <= 1500),
    });

  if (measureMemory) {
    // After load: the lowest reading within 30 s of the load ending (the heap shrinks when idle).
    const loaded = { secretary, guesser, 'system-analyst': analyst };
    const after = Object.fromEntries(Object.keys(loaded).map((n) => [n, Infinity]));
    const peak = Object.fromEntries(Object.entries(loaded).map(([n, c]) => [n, rssMb(c.pid)]));
    for (let s = 0; s < 30; s++) {
      await sleep(1_000);
      if (s % 3 === 0) memoryDetail(loaded, `after ${s} s`);
      for (const [n, c] of Object.entries(loaded)) after[n] = Math.min(after[n], rssMb(c.pid));
    }
    console.log(
      '\n3) RSS per service: idle settled (lowest within 40 s of start; at 12 s), after load settled',
    );
    for (const [n, mb] of Object.entries(idle)) {
      const line = `   ${n.padEnd(16)} idle ${mb.toFixed(1)} MB (at 12 s ${early[n].toFixed(1)})`;
      const idleOk = mb <= 80;
      table.push({
        target: `idle RSS ${n} (≤ 80 MB)`,
        figure: `${mb.toFixed(1)} MB`,
        verdict: verdict(idleOk),
      });
      if (after[n] === undefined) {
        console.log(`${line}   ${verdict(idleOk)} (no load)`);
        continue;
      }
      const grow = after[n] / mb;
      table.push({
        target: `RSS after load / idle ${n} (≤ 1.3×)`,
        figure: `${grow.toFixed(2)}× (${after[n].toFixed(1)} MB; ${peak[n].toFixed(1)} at load end)`,
        verdict: verdict(grow <= 1.3),
      });
      console.log(
        `${line}   ${verdict(idleOk)};  after load ${after[n].toFixed(1)} MB (${grow.toFixed(2)}×, at load end ${peak[n].toFixed(1)})   ${verdict(grow <= 1.3)}`,
      );
    }
  }

  for (const c of [secretary, guesser, analyst, llmChild, ...bareChildren]) await stopChild(c);
  await db.drop();
}

/**
 * `pnpm start` until the whole mesh is up (the launcher's "Press Ctrl-C" line, printed once every
 * service answers) and until the secretary answers /health/ready: a fresh data dir, then a restart
 * with nothing changed. The command is `pnpm start` itself, pnpm's own start-up included.
 */
async function timePnpmStart() {
  const dataDir = mkdtempSync(join(tmpdir(), 'wm-bench-start-'));
  const once = async () => {
    // Below the ephemeral range, so no listen(0) elsewhere takes one between the check and the bind.
    const base = await freePortBlock(5);
    const since = performance.now();
    const child = spawn('pnpm', ['start'], {
      cwd: root,
      env: {
        ...process.env,
        LAUNCHER_BASE_PORT: String(base),
        LAUNCHER_DATA_DIR: dataDir,
        LLM_PROVIDER: 'custom',
        LLM_BASE_URL: 'http://127.0.0.1:9/v1',
        LLM_API_KEY: 'bench',
        LLM_MODEL: 'fake-model',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // its own process group: the launcher and its services stop together
    });
    let stderr = '';
    let allUp;
    let cpu;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (process.env.BENCH_VERBOSE) process.stderr.write(d);
      if (allUp === undefined && stderr.includes('Press Ctrl-C to stop.')) {
        allUp = performance.now() - since;
        cpu = groupCpuMs(child.pid);
      }
    });
    try {
      const secretary = await waitReady(`http://127.0.0.1:${base}/health/ready`, since, child, 300_000);
      while (allUp === undefined && child.exitCode === null) await sleep(10);
      if (allUp === undefined) throw new Error(`pnpm start exited ${child.exitCode}: ${stderr.slice(-500)}`);
      return { secretary, allUp, cpu };
    } finally {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await new Promise((done) => {
        if (child.exitCode !== null) return done();
        const kill = setTimeout(() => {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 15_000);
        child.once('exit', () => {
          clearTimeout(kill);
          done();
        });
      });
    }
  };
  try {
    const first = await once();
    const again = await once();
    const third = await once();
    return { first, again, third };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(
    `Workemon bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores, load average ${load()}`,
  );
  const kinds =
    process.env.BENCH_ONLY_START === '1'
      ? []
      : (process.env.BENCH_DB ?? 'both') === 'both'
        ? ['postgres', 'pglite']
        : [process.env.BENCH_DB];
  for (const [i, kind] of kinds.entries()) await scenario(kind, { measureMemory: i === 0 });

  if (process.env.BENCH_SKIP_START !== '1') {
    console.log(
      '\n4) `pnpm start` until every service answers (the launcher prints "Press Ctrl-C"), and until the secretary answers /health/ready; target ≤ 5 s with nothing changed',
    );
    const { first, again, third } = await timePnpmStart();
    const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `   fresh data dir: all up ${s(first.allUp)} (secretary ready ${s(first.secretary)}); ` +
        `restarts with nothing changed: all up ${s(again.allUp)} and ${s(third.allUp)} (secretary ready ${s(again.secretary)}, ${s(third.secretary)})`,
    );
    // What the machine's load does not change: the CPU the command and all it started spent until then.
    console.log(
      `   CPU spent until all up (pnpm, launcher, embedded database, migrations, five services): ` +
        `fresh ${s(first.cpu)}, restarts ${s(again.cpu)} and ${s(third.cpu)} on ${cpus().length} cores`,
    );
    noteLoad('after the `pnpm start` runs');
    // The better of two restarts: a restart has nothing to do that differs between the two.
    const unchanged = Math.min(again.allUp, third.allUp);
    table.push({
      target: '`pnpm start` unchanged → every service answering (≤ 5 s)',
      figure: `${s(unchanged)} (${s(Math.min(again.cpu, third.cpu))} CPU; secretary ${s(Math.min(again.secretary, third.secretary))}; fresh data dir ${s(first.allUp)})`,
      verdict: verdict(unchanged <= 5_000),
    });
  }

  console.log(
    `\nSummary (load average during the run: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}, now ${load()}; ` +
      `runtime settings: ${process.env.BENCH_RUNTIME === 'none' ? 'none' : `${JSON.stringify(SERVICE_RUNTIME_ENV)} ${SERVICE_NODE_ARGS.join(' ')}`})`,
  );
  const w = Math.max(...table.map((r) => r.target.length));
  for (const r of table) console.log(`  ${r.target.padEnd(w)}  ${r.figure.padEnd(44)} ${r.verdict}`);

  const drain = join(root, 'bench/communicator-drain.mjs');
  if (existsSync(drain) && process.env.BENCH_SKIP_DRAIN !== '1') {
    console.log('\n5) communicator backlog drain');
    const r = spawnSync(process.execPath, [drain], { cwd: root, stdio: 'inherit', env: process.env });
    if (r.status !== 0) process.exitCode = r.status ?? 1;
  }
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (process.exitCode || process.env.BENCH_KEEP_LOGS === '1')
      console.error(`the services' logs are kept in ${logDir}`);
    else rmSync(logDir, { recursive: true, force: true });
  });
