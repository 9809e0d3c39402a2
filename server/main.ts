// Process entry: load the config, start labdeck, print the demo banner, stop cleanly on signals.
import { ConfigError, loadConfig } from './config.js';
import { startLabdeck } from './server.js';
import { demoBanner } from './classes/demo-seed.js';
import { log } from './log.js';
import { installShutdown } from './ops/shutdown.js';
import { setFlagsFromString } from 'node:v8';

async function main(): Promise<void> {
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`labdeck: configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  // Demo mode runs on a laptop beside everything else: V8 favours memory over speed there (its
  // collector keeps less garbage and fewer spare pages between collections). Demo mode, RSS in
  // the 40-80 s after start: 79 MB mean of 5 runs without, 76 MB of 3 with (bench/RESULTS.md).
  // Not for a real deployment: passed on the command line it also shrinks the young generation to
  // 1 MB, and a student's read then cost ~15 µs more CPU at 2,000 guests.
  if (config.demo) setFlagsFromString('--optimize-for-size');
  const labdeck = await startLabdeck(config);
  if (labdeck.demo) console.log(demoBanner(labdeck.url, labdeck.demo.password));
  installShutdown(labdeck, { onBegin: () => labdeck.ops.markShuttingDown(), beforeClose: () => labdeck.ops.close() });
}

main().catch((err) => {
  log.fatal({ err }, 'labdeck failed to start');
  process.exit(1);
});
