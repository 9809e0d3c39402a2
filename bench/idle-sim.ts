// Dev harness helper: a simulator in its own process (its CPU is not labdeck's); prints its clusters as one JSON line.
// Ends on SIGTERM/SIGINT or when its stdin closes (the harness that started it is gone).
import { startSimulator } from '../server/simulator/index.js';
const n = Number(process.argv[2] ?? 2);
const guests = Number(process.argv[3] ?? 2000);
const sim = await startSimulator({
  clusters: Array.from({ length: n }, (_, i) => ({ id: `c${i}`, guests, nodes: 4, seed: i + 1 })),
  unauthorizedDelayMs: 0, pvestatdIntervalMs: 10_000,
});
console.log(JSON.stringify(sim.clusters.map((c) => ({ id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret }))));
const end = () => { void sim.close().finally(() => process.exit(0)); setTimeout(() => process.exit(0), 2_000).unref(); };
process.on('SIGTERM', end);
process.on('SIGINT', end);
process.stdin.on('end', end).on('close', end).resume();
