// The production build of the server: server/ (with the migrations and the shared contract it
// imports) bundled by esbuild into dist/server/, so `npm start` and the Docker image run plain
// `node dist/server/main.js` with no TypeScript loader. Packages stay external (node_modules is
// installed as usual; better-sqlite3 is native). The demo simulator is only reached by a dynamic
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
  packages: 'external',
  tsconfig: 'tsconfig.json',
  // Chunks sit next to main.js (the static root is found relative to them, see server/server.ts).
  chunkNames: '[name]-[hash]',
  // Linked maps: `NODE_OPTIONS=--enable-source-maps` turns stack traces back into server/*.ts lines.
  sourcemap: 'linked',
  legalComments: 'none',
  metafile: true,
  plugins: [simulatorSchema],
  logLevel: 'warning',
});

const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js'))
  .reduce((sum, [, out]) => sum + out.bytes, 0);
console.log(`server build: dist/server (${Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js')).length} files, ${Math.round(bytes / 1024)} KiB of JavaScript)`);
