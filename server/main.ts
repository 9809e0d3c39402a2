// Process entry: load the config, start labdeck, print the demo banner, stop cleanly on signals.
import { ConfigError, loadConfig } from './config.js';
import { startLabdeck, type Labdeck } from './server.js';
import { log } from './log.js';
import { installShutdown } from './ops/shutdown.js';

/** The lines printed on a demo start: where to go and how to sign in. */
export function demoBanner(labdeck: Labdeck): string {
  const d = labdeck.demo!;
  return [
    '',
    '  labdeck demo mode: two simulated Proxmox clusters, no real machines are touched.',
    `  Open ${labdeck.url}`,
    `  Sign in as admin, teacher or student01 … student24 — password "${d.password}"`,
    '  (set LABDECK_CONFIG to use real clusters)',
    '',
  ].join('\n');
}

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
  if (labdeck.demo) console.log(demoBanner(labdeck));
  installShutdown(labdeck, { onBegin: () => labdeck.ops.markShuttingDown(), beforeClose: () => labdeck.ops.close() });
}

main().catch((err) => {
  log.fatal({ err }, 'labdeck failed to start');
  process.exit(1);
});
