// Process entry: load the config, start labdeck, print the demo banner, stop cleanly on signals.
import { ConfigError, loadConfig } from './config.js';
import { startLabdeck } from './server.js';
import { demoBanner } from './classes/demo-seed.js';
import { log } from './log.js';
import { installShutdown } from './ops/shutdown.js';

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
  const labdeck = await startLabdeck(config);
  if (labdeck.demo) console.log(demoBanner(labdeck.url, labdeck.demo.password));
  installShutdown(labdeck, { onBegin: () => labdeck.ops.markShuttingDown(), beforeClose: () => labdeck.ops.close() });
}

main().catch((err) => {
  log.fatal({ err }, 'labdeck failed to start');
  process.exit(1);
});
