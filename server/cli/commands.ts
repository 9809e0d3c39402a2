// The admin commands behind `npm run labdeck -- <command>`: parsing, dispatch and exit codes.
// User management and the mappings dry run work on the database directly; `sync trigger` and
// `import-mappings --apply` go through the running server; `check-config` probes each cluster.
// Each command's module is loaded only when it runs, to keep the CLI quick to start.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type AppConfig } from '../config.js';
import { createDb, type Db } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import * as v from 'valibot';
import { UsageError } from './usage-error.js';
import { DomainError, type ErrorCode } from '../../contract/errors.js';

export const USAGE = `Usage: npm run labdeck -- <command> [options]

Users (on the database; effective at once, also for a running server):
  user add <name> --role admin|teacher|student [--display-name "Full Name"] [--password-file <file>|-]
  user list [--role <role>]
  user passwd <name> [--password-file <file>|-]
  user disable <name>            user enable <name>
  user role <name> <admin|teacher|student>
  (without --password-file the password is asked for on the terminal, not echoed)

Classes:
  import-mappings <mappings.json> --class <id|name> [--cluster <id>] [--apply]
                                 dry run by default: shows what matches; --apply makes it so (via the server)

Sync (via the running server, signed with SESSION_SECRET as the first admin or --as <admin>):
  sync trigger [--cluster <id>] [--kind full|quick] [--url http://127.0.0.1:8080]
                                 --url (also for import-mappings --apply) must be loopback or the
                                 config's publicUrl; --insecure-url sends the admin session elsewhere

Setup:
  check-config                   validates LABDECK_CONFIG and tests DNS, TCP, TLS, token and
                                 privileges of every cluster, and the alert channels

Environment: LABDECK_CONFIG, DATABASE_URL, SESSION_SECRET, HOST, PORT (as for the server).
`;

const options = {
  role: { type: 'string' },
  'password-file': { type: 'string' },
  'display-name': { type: 'string' },
  class: { type: 'string' },
  cluster: { type: 'string' },
  apply: { type: 'boolean' },
  kind: { type: 'string' },
  url: { type: 'string' },
  'insecure-url': { type: 'boolean' },
  as: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function withDb<T>(url: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = createDb(url);
  try {
    await migrateToLatest(db);
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

async function serverConfig(): Promise<AppConfig> {
  try {
    return await loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`configuration error: ${err.message}`);
    throw err;
  }
}

/** The server's answer to a sync trigger, as far as the CLI reads it. */
const SyncAnswer = v.object({
  finished: v.boolean(),
  status: v.object({
    clusters: v.array(v.object({
      id: v.string(),
      health: v.string(),
      recentPasses: v.array(v.object({
        kind: v.string(), error: v.nullish(v.string()), guests: v.nullish(v.number()), changed: v.nullish(v.number()), durationMs: v.nullish(v.number()),
      })),
    })),
  }),
});

function syncSummary(status: v.InferOutput<typeof SyncAnswer>['status']): string {
  return status.clusters.map((c) => {
    const last = c.recentPasses.at(-1);
    const pass = last ? `last ${last.kind} pass: ${last.error ? `failed (${last.error})` : `${last.guests} guests, ${last.changed} changed in ${last.durationMs} ms`}` : 'no pass yet';
    return `  ${c.id}: ${c.health}, ${pass}`;
  }).join('\n');
}

/** Exit codes for domain errors: 2 for a mistake in what was asked (as a usage error), 1 when labdeck or Proxmox failed. */
export const exitCodeOf: Readonly<Record<ErrorCode, number>> = {
  bad_request: 2, unauthorized: 2, forbidden: 2, not_found: 2, conflict: 2, not_most_recent: 2, payload_too_large: 2,
  too_many_requests: 1, proxmox_error: 1, unavailable: 1, internal: 1,
};

/** Runs one command line; returns the exit code. */
export async function run(argv: string[], write: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: o, positionals: [command, ...rest] } = parsed;
  if (o.help || !command || command === 'help') {
    write(USAGE);
    return command || o.help ? 0 : 2;
  }
  const dbUrl = process.env.DATABASE_URL || './data/labdeck.db';
  try {
    switch (command) {
      case 'user': {
        const [sub, ...args] = rest;
        const { userCommand } = await import('./users.js');
        const out = await withDb(dbUrl, (db) => userCommand(db, sub, args, { role: o.role, passwordFile: o['password-file'], displayName: o['display-name'] }));
        write(`${out}\n`);
        return 0;
      }
      case 'import-mappings': {
        const config = o.apply ? await serverConfig() : ({ databaseUrl: dbUrl } as AppConfig);
        const { importMappingsCommand } = await import('./mappings.js');
        const out = await withDb(config.databaseUrl, (db) => importMappingsCommand(config, db, rest[0], { class: o.class, cluster: o.cluster, apply: o.apply, url: o.url, insecureUrl: o['insecure-url'], as: o.as }));
        write(`${out}\n`);
        return 0;
      }
      case 'sync': {
        if (rest[0] !== 'trigger') throw new UsageError('sync: the only subcommand is "trigger"');
        if (o.kind !== undefined && o.kind !== 'full' && o.kind !== 'quick') throw new UsageError('--kind must be full or quick');
        const config = await serverConfig();
        const { callServer } = await import('./server-api.js');
        const body = { ...(o.cluster ? { cluster: o.cluster } : {}), ...(o.kind ? { kind: o.kind } : {}) };
        const res = await withDb(config.databaseUrl, (db) =>
          callServer(config, db, { url: o.url, insecureUrl: o['insecure-url'], as: o.as }, 'POST', '/api/sync/trigger', body, SyncAnswer));
        write(`${res.body.finished ? 'Sync pass finished.' : 'Sync pass started (still running after 10 s).'}\n${syncSummary(res.body.status)}\n`);
        return 0;
      }
      case 'check-config': {
        const { runCheckConfig } = await import('./check-config.js');
        return await runCheckConfig(process.env, write);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      write(`labdeck: ${err.message}\n`);
      return 2;
    }
    if (err instanceof DomainError) {
      write(`labdeck: ${err.message}\n`);
      return exitCodeOf[err.code];
    }
    // A bug or something nobody foresaw: one plain line, no stack trace (LOG_LEVEL=debug shows it).
    write(`labdeck: ${command} failed: ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.LOG_LEVEL === 'debug') write(`${(err as Error)?.stack ?? ''}\n`);
    return 1;
  }
}
