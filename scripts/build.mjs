// `pnpm build` (and the test run's global setup): every package and service with `tsc -b` — projects
// whose sources and references did not change are skipped — then the console's browser page, then one
// bundle per service entry (dist/bundle/, what the launcher runs), then a stamp of the sources built.
// `node scripts/build.mjs --if-changed` (what `pnpm start` does) skips all of it when the stamp matches.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const defaultRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The workspace projects `tsc -b tsconfig.build.json` builds. */
function projects(root) {
  const list = [];
  for (const group of ['packages', 'services'])
    for (const name of readdirSync(join(root, group)).sort())
      if (existsSync(join(root, group, name, 'tsconfig.build.json'))) list.push(join(group, name));
  return list;
}

const SERVICE_ENTRIES = ['main.js', 'migrate.js'];

/**
 * Loaded from node_modules at run time, not bundled: native addons, packages that find their own
 * files through __dirname, and the mail and Telegram libraries (loaded only when a channel is
 * configured, and tested as they are installed).
 */
const EXTERNAL = [
  '@node-rs/argon2',
  'pg-native',
  'swagger-ui-express',
  'imapflow',
  'mailparser',
  'nodemailer',
  'telegraf',
];

/**
 * Everything a build reads, as paths with size and mtime: the projects' src/, page/ and scripts/,
 * their package.json and tsconfig files, the root configs, the lockfile and this script. Only stat
 * calls, so `pnpm start` knows in a few milliseconds whether a build is needed. A changed, added,
 * removed or renamed file changes the fingerprint (a checkout rewrites mtimes too).
 */
export function sourceFingerprint(root = defaultRoot) {
  const files = [
    'package.json',
    'pnpm-lock.yaml',
    'tsconfig.base.json',
    'tsconfig.build.json',
    'scripts/build.mjs',
  ];
  for (const project of projects(root)) {
    for (const name of readdirSync(join(root, project)))
      if (name === 'package.json' || /^tsconfig.*\.json$/.test(name)) files.push(join(project, name));
    for (const dir of ['src', 'page', 'scripts']) {
      const abs = join(root, project, dir);
      if (!existsSync(abs)) continue;
      for (const entry of readdirSync(abs, { recursive: true, withFileTypes: true }))
        if (entry.isFile()) files.push(relative(root, join(entry.parentPath ?? entry.path, entry.name)));
    }
  }
  const hash = createHash('sha256').update(process.version);
  for (const file of files.sort()) {
    const st = statSync(join(root, file), { throwIfNoEntry: false });
    hash.update(`\n${file.split(sep).join('/')}\t${st ? `${st.size}\t${st.mtimeMs}` : '-'}`);
  }
  return hash.digest('hex');
}

const stampFile = (root) => join(root, 'node_modules/.cache/workemon/build-stamp.json');

/** The outputs `pnpm start` runs; a build that left one missing is not up to date whatever the stamp says. */
function outputs(root) {
  const list = ['packages/launcher/dist/main.js', 'services/console/dist/page/index.html'];
  for (const project of projects(root))
    if (project.startsWith('services') && existsSync(join(root, project, 'src/main.ts')))
      list.push(join(project, 'dist/bundle/main.js'));
  return list;
}

/** True when the last successful build saw exactly the sources there are now and its outputs exist. */
export function isUpToDate(root = defaultRoot) {
  try {
    const stamp = JSON.parse(readFileSync(stampFile(root), 'utf8'));
    return (
      stamp.fingerprint === sourceFingerprint(root) && outputs(root).every((f) => existsSync(join(root, f)))
    );
  } catch {
    return false;
  }
}

/**
 * CommonJS packages whose index loads far more than we use, with the members we import and the file
 * each one lives in. A bundle cannot tree-shake CommonJS: `import { Pool } from 'undici'` runs all of
 * undici's index (fetch, WebSocket, caches, mocks) at start-up, and rate-limiter-flexible's loads its
 * Redis, Mongo and SQL stores. Pointing the import at the member's own file keeps ~0.3 MB of source
 * and its start-up objects out of every service: idle RSS ~4.5 MB lower (communicator 77.4 → 72.8 MB).
 */
const NARROW_IMPORTS = {
  undici: {
    members: { Pool: 'undici/lib/dispatcher/pool.js' },
    // undici's index puts request() and the other API methods on Dispatcher.prototype; pool.js has none.
    prelude: (path) =>
      `Object.assign(require(${path('undici/lib/dispatcher/dispatcher.js')}).prototype, require(${path('undici/lib/api/index.js')}));`,
  },
  'rate-limiter-flexible': {
    members: {
      RateLimiterMemory: 'rate-limiter-flexible/lib/RateLimiterMemory.js',
      RateLimiterRes: 'rate-limiter-flexible/lib/RateLimiterRes.js',
    },
  },
};

/**
 * Resolves each NARROW_IMPORTS package to a module that requires only the members' files. The build
 * fails, naming the file, when an import asks for anything else: a member missing from the map would
 * otherwise be `undefined` at run time.
 */
export function narrowImports(table = NARROW_IMPORTS) {
  const names = Object.keys(table);
  const filter = new RegExp(`^(${names.map((n) => n.replace(/[-/\\^$*+?.()|[\]{}]/g, '\\$&')).join('|')})$`);
  return {
    name: 'narrow-imports',
    setup(b) {
      b.onResolve({ filter }, async (args) => {
        const { members } = table[args.path];
        const source = readFileSync(args.importer, 'utf8');
        const quoted = args.path.replace(/[-/\\^$*+?.()|[\]{}]/g, '\\$&');
        const statements = [
          ...source.matchAll(new RegExp(`import\\s*([^;]*?)\\s*from\\s*['"]${quoted}['"]`, 'g')),
        ];
        const asked = statements.flatMap(([, clause]) => {
          const named = /^\{([^}]*)\}$/.exec(clause.trim());
          if (!named) return [clause.trim()];
          return named[1]
            .split(',')
            .map((m) => m.trim().split(/\s+as\s+/)[0])
            .filter(Boolean);
        });
        const unknown = asked.filter((m) => !(m in members));
        if (statements.length === 0 || unknown.length > 0)
          return {
            errors: [
              {
                text: `${relative(process.cwd(), args.importer)} imports ${unknown.join(', ') || 'it without named members'} from '${args.path}': add the member's file to NARROW_IMPORTS in scripts/build.mjs`,
              },
            ],
          };
        return { path: args.path, namespace: 'narrow-imports', pluginData: args.resolveDir };
      });
      b.onLoad({ filter: /.*/, namespace: 'narrow-imports' }, async (args) => {
        const { members, prelude } = table[args.path];
        const resolved = new Map();
        const needed = [...Object.values(members)];
        // The prelude is asked once for the files it requires, then written with their resolved paths.
        prelude?.((file) => {
          needed.push(file);
          return '';
        });
        for (const file of needed) {
          const found = await b.resolve(file, { resolveDir: args.pluginData, kind: 'require-call' });
          if (found.errors.length > 0) return { errors: found.errors };
          resolved.set(file, found.path);
        }
        const path = (file) => JSON.stringify(resolved.get(file));
        const lines = prelude ? [prelude(path)] : [];
        for (const [member, file] of Object.entries(members))
          lines.push(`exports.${member} = require(${path(file)});`);
        return { contents: lines.join('\n'), loader: 'js', resolveDir: '/' };
      });
    },
  };
}

/**
 * In a bundle every module shares the bundle's import.meta.url: a file that finds its package.json or
 * migrations relative to itself gets the URL of the place it was built to instead.
 */
function keepOwnUrl(outdir) {
  return {
    name: 'keep-own-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /[\\/](packages|services)[\\/][^\\/]+[\\/]dist[\\/].*\.js$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const rel = relative(outdir, args.path).split(sep).join('/');
        return {
          contents: text.replaceAll(
            'import.meta.url',
            `new URL(${JSON.stringify(rel)}, import.meta.url).href`,
          ),
          loader: 'js',
        };
      });
    },
  };
}

/**
 * One ESM bundle per service entry: Node 20 spends most of a service's start-up resolving and
 * linking ~900 module files (0.6 s of CPU); one file starts in well under half of that. Code behind
 * a dynamic import stays in its own chunk, loaded only when used. Kept out: native addons and
 * packages that read their own files by path.
 */
export async function bundleServices(root = defaultRoot) {
  const { build: esbuild, stop } = await import('esbuild');
  try {
    await bundleEach(root, esbuild);
  } finally {
    // esbuild's service process would otherwise live on beside the launcher `pnpm start` runs next.
    await stop();
  }
}

function bundleEach(root, esbuild) {
  return Promise.all(
    projects(root)
      .filter((p) => p.startsWith('services') && existsSync(join(root, p, 'dist/main.js')))
      .map((project) => {
        const dist = join(root, project, 'dist');
        const outdir = join(dist, 'bundle');
        // Chunk names carry a content hash: without this, every build would leave the old ones behind.
        rmSync(outdir, { recursive: true, force: true });
        return esbuild({
          entryPoints: SERVICE_ENTRIES.map((e) => join(dist, e)).filter((f) => existsSync(f)),
          outdir,
          bundle: true,
          splitting: true,
          format: 'esm',
          platform: 'node',
          target: 'node20',
          // No comments (nor whitespace): V8 keeps a module's source
          // in the heap, and one non-Latin-1 character in a comment (an em dash) stores all of it
          // at two bytes a character (guesser: 9 → 3 MB of heap, 6 MB less RSS). Names stay, so
          // stack traces still name every function.
          minifyWhitespace: true,
          minifySyntax: true,
          sourcemap: process.env.BUNDLE_SOURCEMAP === '1' ? 'external' : false,
          external: EXTERNAL,
          // CommonJS dependencies inside an ES module still call require().
          banner: {
            js: "import { createRequire as __workemonRequire } from 'node:module'; const require = __workemonRequire(import.meta.url);",
          },
          plugins: [keepOwnUrl(outdir), narrowImports()],
          logLevel: 'warning',
        }).then(() => latin1Only(outdir));
      }),
  );
}

/**
 * esbuild leaves regular expression literals as written (/(?<=[.!?…])/, /^(re|ответ)/): one such
 * character makes V8 keep the whole chunk's source at two bytes a character. `\uXXXX` means the
 * same in a string, a regular expression (with or without the u flag) and an identifier.
 */
function latin1Only(outdir) {
  for (const name of readdirSync(outdir)) {
    if (!name.endsWith('.js')) continue;
    const file = join(outdir, name);
    const text = readFileSync(file, 'utf8');
    // Every UTF-16 unit above Latin-1 (a surrogate pair becomes two escapes, which is the same).
    const wide = /[\u0100-\uffff]/g;
    if (!wide.test(text)) continue;
    writeFileSync(
      file,
      text.replace(wide, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    );
  }
}

export async function build(root = defaultRoot) {
  // Taken before building: a file edited while the build runs makes the next start build again.
  const fingerprint = sourceFingerprint(root);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [resolve(root, 'services/console/scripts/build-page.mjs')], {
    cwd: root,
    stdio: 'inherit',
  });
  await bundleServices(root);
  writeStamp(root, fingerprint);
}

/** Records a successful build of the sources with this fingerprint. */
export function writeStamp(root, fingerprint) {
  mkdirSync(dirname(stampFile(root)), { recursive: true });
  writeFileSync(stampFile(root), JSON.stringify({ fingerprint, builtAt: new Date().toISOString() }));
}

/** Builds only when a source changed since the last successful build; says which it did. */
export async function buildIfChanged(root = defaultRoot) {
  if (isUpToDate(root)) return false;
  await build(root);
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--if-changed')) await buildIfChanged();
  else await build();
}
