// The production build of the server: server/ (with the migrations and the shared contract it
// imports) bundled by esbuild into dist/server/, so `npm start` and the Docker image run plain
// `node dist/server/main.js` with no TypeScript loader. Packages stay external (node_modules is
// installed as usual; better-sqlite3 is native). The demo simulator is only reached by a dynamic
// import, so it lands in its own chunk that a production server never loads.
// Types are not checked here: `npm run typecheck` (tsc) does that, and `npm test` runs it first.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/server`;

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
  logLevel: 'warning',
});

const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js'))
  .reduce((sum, [, out]) => sum + out.bytes, 0);
console.log(`server build: dist/server (${Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js')).length} files, ${Math.round(bytes / 1024)} KiB of JavaScript)`);
