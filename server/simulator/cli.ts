// `npm run sim`: runs the simulator alone and prints what a user needs to point labdeck at it
// (URL, API token, and the config-file snippet to paste).
import { parseArgs } from 'node:util';
import * as v from 'valibot';
import { startSimulator, type SimClusterOptions, type Simulator } from './index.js';

const USAGE = `usage: npm run sim -- [options]
  --port N             first cluster's port (default 8006; 0 = any free port)
  --clusters N         number of clusters, ports counting up from --port (default 1)
  --guests N           guests per cluster (default 200)
  --nodes N            nodes per cluster (default 3)
  --seed N             generator seed (default 42)
  --token-id ID        API token id (default 'root@pam!labdeck')
  --token-secret UUID  API token secret, a lowercase UUID (default: a fresh one)
  --host ADDR          listen address (default 127.0.0.1)
  --tls                serve HTTPS with a self-signed certificate (like real PVE)
  --activity           simulated students start and stop guests now and then
  --pvestatd-ms N      cluster/resources refresh interval (default 10000; 0 = always live)
  --control-port N     also serve the JSON control API on this port (0 = any free port)
  --unauth-delay-ms N  delay of 401 answers (default 3000, like real PVE)
  --help               this text`;

const int = (min: number, max: number) => v.pipe(v.string(), v.regex(/^\d+$/, 'must be a whole number'), v.transform(Number), v.minValue(min), v.maxValue(max));

const Flags = v.object({
  port: v.optional(int(0, 65535), '8006'),
  clusters: v.optional(int(1, 50), '1'),
  guests: v.optional(int(0, 200_000), '200'),
  nodes: v.optional(int(1, 64), '3'),
  seed: v.optional(int(0, 2 ** 31), '42'),
  'token-id': v.optional(v.pipe(v.string(), v.regex(/^[^\s:/@!]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/, 'must look like user@realm!name')), 'root@pam!labdeck'),
  'token-secret': v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lowercase UUID'))),
  host: v.optional(v.pipe(v.string(), v.minLength(1)), '127.0.0.1'),
  tls: v.optional(v.boolean(), false),
  activity: v.optional(v.boolean(), false),
  'pvestatd-ms': v.optional(int(0, 3_600_000), '10000'),
  'control-port': v.optional(int(0, 65535)),
  'unauth-delay-ms': v.optional(int(0, 60_000), '3000'),
  help: v.optional(v.boolean(), false),
});

function die(message: string): never {
  process.stderr.write(`sim: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

/** Parses argv into validated flags, exiting with status 2 and a clear message on bad input. */
function readFlags(argv: string[]): v.InferOutput<typeof Flags> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' }, clusters: { type: 'string' }, guests: { type: 'string' }, nodes: { type: 'string' },
        seed: { type: 'string' }, 'token-id': { type: 'string' }, 'token-secret': { type: 'string' }, host: { type: 'string' },
        tls: { type: 'boolean' }, activity: { type: 'boolean' }, 'pvestatd-ms': { type: 'string' }, 'control-port': { type: 'string' },
        'unauth-delay-ms': { type: 'string' }, help: { type: 'boolean' },
      },
    }));
  } catch (e) {
    die(e instanceof Error ? e.message : String(e));
  }
  const r = v.safeParse(Flags, values);
  if (!r.success) die(`--${v.getDotPath(r.issues[0]) ?? '?'}: ${r.issues[0].message}`);
  if (r.output.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  return r.output;
}

async function main(): Promise<void> {
  const f = readFlags(process.argv.slice(2));
  const clusters: SimClusterOptions[] = Array.from({ length: f.clusters }, (_, i) => ({
    id: f.clusters === 1 ? 'lab-a' : `lab-${String.fromCharCode(97 + (i % 26))}${i >= 26 ? Math.floor(i / 26) : ''}`,
    port: f.port === 0 ? 0 : f.port + i,
    guests: f.guests,
    nodes: f.nodes,
    seed: f.seed + i,
    tokenId: f['token-id'],
    tokenSecret: f['token-secret'],
  }));
  let sim: Simulator;
  try {
    sim = await startSimulator({
      clusters, host: f.host, tls: f.tls, activity: f.activity, pvestatdIntervalMs: f['pvestatd-ms'],
      controlPort: f['control-port'], unauthorizedDelayMs: f['unauth-delay-ms'],
    });
  } catch (e) {
    process.stderr.write(`sim: cannot start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  const out: string[] = [];
  for (const c of sim.clusters) {
    out.push(`cluster ${c.id}: ${c.url}  (${c.nodes.length} nodes, ${c.guests().length} guests)`);
    out.push(`  token id:     ${c.tokenId}`);
    out.push(`  token secret: ${c.tokenSecret}`);
    if (c.fingerprint) out.push(`  fingerprint:  ${c.fingerprint}`);
  }
  if (sim.controlUrl) out.push(`control API: ${sim.controlUrl}  (GET /clusters)`);
  const config = {
    clusters: sim.clusters.map((c) => ({ id: c.id, name: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, verifyTls: false })),
  };
  out.push('', 'labdeck config (paste into your config file):', JSON.stringify(config, null, 2), '', 'Ctrl-C stops the simulator.');
  process.stdout.write(`${out.join('\n')}\n`);
  const stop = (): void => {
    sim.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
