// The admin command line: `npm run labdeck -- <command>` (in the image: `labdeck <command>`).
import { run } from './commands.js';

run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`labdeck: ${(err as Error).stack ?? String(err)}\n`); process.exitCode = 1; },
);
