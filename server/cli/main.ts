// The admin command line: `npm run labdeck -- <command>` (in the image: `labdeck <command>`).
import { run } from './commands.js';

run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    // Only a failure outside every command's own handling lands here: a plain line, the stack on request.
    process.stderr.write(`labdeck: ${process.env.LOG_LEVEL === 'debug' ? (err as Error)?.stack : (err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
