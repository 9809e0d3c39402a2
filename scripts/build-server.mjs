// The production build of the server: server/ (with the migrations and the shared contract it
// imports) bundled by esbuild into dist/server/, so `npm start` and the Docker image run plain
// `node dist/server/main.js` with no TypeScript loader. Most packages stay external (node_modules is
// installed as usual; better-sqlite3 is native); four ES-module ones are bundled (see `bundled`). The demo simulator is only reached by a dynamic
// import, so it lands in its own chunk that a production server never loads.
// Types are not checked here: `npm run typecheck` (tsc) does that, and `npm test` runs it first.
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { runtimeSchema } from './simulator-schema.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/server`;

// The simulator's PVE schema subset (server/simulator/schema/pve-schema-subset.json, 456 KB as a JS
// literal in the demo chunk) is kept whole in the repository for the tests that compare it with the
// full schema and check answers against `returns`. At run time the simulator only reads each
// method's `parameters` (the fields verifyParams checks), `permissions` and `proxyto`; the bundle
// gets just those (~35 KB), which is ~1 MB less heap and source text in demo mode.
const simulatorSchema = {
  name: 'simulator-schema-runtime-subset',
  setup(b) {
    b.onLoad({ filter: /pve-schema-subset\.json$/ }, (args) => {
      const full = JSON.parse(readFileSync(args.path, 'utf8'));
      return { contents: JSON.stringify(runtimeSchema(full)), loader: 'json' };
    });
  },
};

// Dependencies bundled into the output instead of loaded from node_modules at run time: ES-module
// packages of many small files, where bundling keeps only what labdeck imports and saves node's
// per-module cost (each file a module record, namespace and source string). Measured in demo mode,
// live V8 heap after a full GC: 21.6 -> 19.0 MB (kysely alone: 2.9 MB imported from node_modules,
// 1.1 MB bundled; valibot's whole 400 KB source was kept as a string). Every other package stays
// external: CommonJS ones (undici, socket.io, pino, prom-client) gain little and some read files
// beside themselves; better-sqlite3 is native.
const bundled = ['kysely', 'valibot', 'hono', '@hono/node-server'];
const packageOf = (spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (bundled.includes(packageOf(args.path)) ? undefined : { path: args.path, external: true }));
  },
};

// A removed module must not linger in the output.
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ['server/main.ts', 'server/cli/main.ts'],
  outbase: 'server',
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  tsconfig: 'tsconfig.json',
  // Chunks sit next to main.js (the static root is found relative to them, see server/server.ts).
  chunkNames: '[name]-[hash]',
  // Linked maps: `NODE_OPTIONS=--enable-source-maps` turns stack traces back into server/*.ts lines.
  sourcemap: 'linked',
  legalComments: 'none',
  metafile: true,
  plugins: [simulatorSchema, externalPackages],
  // Whitespace and comments out: a comment with one non-ASCII character (an arrow, a dash) made V8
  // keep that whole file's source as a two-byte string (main.js: 566 KB for 290 KB of text).
  // Names are kept, so stack traces stay readable without the source map.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});

const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js'))
  .reduce((sum, [, out]) => sum + out.bytes, 0);
console.log(`server build: dist/server (${Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js')).length} files, ${Math.round(bytes / 1024)} KiB of JavaScript)`);
