// labdeck as a real child process (server/main.ts via tsx) with a config pointing at an
// in-process simulator, for the tests that need a process of its own (a restart, a signal, a
// kill -9, several instances): its log lines as events to wait on, and a database migrated with an
// admin whose session cookie the child accepts (both share SECRET).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Simulator } from '../../server/simulator/index.js';
import { createDb, type Db } from '../../server/db/index.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import { UsersRepo } from '../../server/auth/users.js';
import { Sessions, SESSION_COOKIE } from '../../server/auth/session.js';
import { AccessFeed } from '../../server/auth/access-feed.js';
import { waitFor } from './wait.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const SECRET = 'c'.repeat(48);
export const ADMIN_USERNAME = 'test-admin';
export const ADMIN_PASSWORD = 'password-1234';

/** A TCP port free on loopback right now (for a child's PORT). */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface LabdeckProcess {
  child: ChildProcess;
  url: string;
  pid: number;
  /** Everything it logged so far. */
  output(): string;
  /** Resolves with the first log line (from now on, or already logged when `seen`) matching `re`. */
  waitForLog(re: RegExp, timeoutMs?: number, seen?: boolean): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** SIGKILL unless it already exited. */
  kill(): void;
}

export interface SpawnOptions {
  dir: string;
  sim: Simulator;
  databaseUrl: string;
  sync?: Record<string, unknown>;
  /** Other config sections (e.g. `{ instance: { shared: true } }`). */
  config?: Record<string, unknown>;
  /** Extra environment (e.g. LABDECK_INSTANCE). */
  env?: Record<string, string>;
  /** Wait for /readyz 200 (default true). */
  waitReady?: boolean;
}

/** Starts server/main.ts as a child process with a config pointing at the simulator. */
export async function spawnLabdeck(o: SpawnOptions): Promise<LabdeckProcess> {
  const config = join(o.dir, `config-${randomUUID().slice(0, 8)}.json`);
  writeFileSync(config, JSON.stringify({
    clusters: o.sim.clusters.map((c) => ({ id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, probePorts: false, timeoutMs: 5000 })),
    sync: { fullIntervalSeconds: 3600, quickIntervalSeconds: 2, fastIntervalMs: 200, ...o.sync },
    ...o.config,
  }));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LABDECK_CONFIG: config, DATABASE_URL: o.databaseUrl,
      SESSION_SECRET: SECRET, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<{ re: RegExp; resolve: (line: string) => void }>();
  const onData = (d: Buffer) => {
    const text = d.toString();
    out += text;
    for (const w of [...waiters]) {
      const line = text.split('\n').find((l) => w.re.test(l));
      if (line) { waiters.delete(w); w.resolve(line); }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const url = `http://127.0.0.1:${port}`;
  const proc: LabdeckProcess = {
    child, url, pid: child.pid!,
    output: () => out,
    waitForLog(re, timeoutMs = 15_000, seen = false) {
      if (seen) {
        const line = out.split('\n').find((l) => re.test(l));
        if (line) return Promise.resolve(line);
      }
      return new Promise((resolve, reject) => {
        const w = { re, resolve: (l: string) => { clearTimeout(t); resolve(l); } };
        const t = setTimeout(() => { waiters.delete(w); reject(new Error(`no log line ${re} within ${timeoutMs} ms; log:\n${out.slice(-3000)}`)); }, timeoutMs);
        waiters.add(w);
      });
    },
    exited,
    kill() { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); },
  };
  if (o.waitReady !== false) {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`labdeck exited (${child.exitCode}):\n${out}`);
      const r = await fetch(`${url}/readyz`).catch(() => null);
      return r?.status === 200;
    }, 120_000, 'labdeck to be ready').catch((err: Error) => { proc.kill(); throw new Error(`${err.message}\n${out.slice(-3000)}`); });
  }
  return proc;
}

/** Migrates the database and makes an admin; returns a session cookie the child accepts. */
export async function prepareDatabase(databaseUrl: string): Promise<{ db: Db; cookie: string }> {
  const db = createDb(databaseUrl);
  await migrateToLatest(db);
  const users = new UsersRepo(db);
  const admin = (await users.getByUsername(ADMIN_USERNAME)) ?? await users.create({ username: ADMIN_USERNAME, role: 'admin', password: ADMIN_PASSWORD });
  const sessions = new Sessions({ users, secret: SECRET, ttlSeconds: 3600, feed: new AccessFeed() });
  return { db, cookie: `${SESSION_COOKIE}=${await sessions.issue(admin.id)}` };
}
