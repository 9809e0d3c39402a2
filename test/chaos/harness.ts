// The chaos suite's tools: labdeck as a real child process (server/main.ts via tsx) against an
// in-process simulator over real HTTP, its log lines as events to wait on, an admin session
// sealed with the child's secret, bounded polling of HTTP answers, and a socket.io client.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { startSimulator, type SimOptions, type Simulator } from '../../server/simulator/index.js';
import { createDb, type Db } from '../../server/db/index.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import { UsersRepo } from '../../server/auth/users.js';
import { Sessions, SESSION_COOKIE } from '../../server/auth/session.js';
import { AccessFeed } from '../../server/auth/access-feed.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const SECRET = 'c'.repeat(48);
export const ADMIN_PASSWORD = 'password-1234';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a value (not undefined) or the time is up; throws saying what it waited for. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A simulator with fast tasks and no lag, for one or more clusters. */
export function chaosSimulator(clusters: Array<{ id: string; nodes?: number; guests?: number; seed?: number }>, o: Partial<Omit<SimOptions, 'clusters'>> = {}): Promise<Simulator> {
  return startSimulator({
    clusters: clusters.map((c) => ({ id: c.id, nodes: c.nodes ?? 1, guests: c.guests ?? 40, seed: c.seed ?? 11, tokenSecret: randomUUID() })),
    pvestatdIntervalMs: 0, unauthorizedDelayMs: 0, ipDelayMs: 0, agentTimeoutMs: 50, activity: false,
    taskDurationMs: { start: 300, stop: 300, shutdown: 300, reboot: 300 },
    ...o,
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
    await until('labdeck to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`labdeck exited (${child.exitCode}):\n${out}`);
      const r = await fetch(`${url}/readyz`).catch(() => null);
      return r?.status === 200 ? true : undefined;
    }, 120_000, 150).catch((err: Error) => { proc.kill(); throw new Error(`${err.message}\n${out.slice(-3000)}`); });
  }
  return proc;
}

/** Migrates the database and makes an admin; returns a session cookie the child accepts. */
export async function prepareDatabase(databaseUrl: string): Promise<{ db: Db; cookie: string }> {
  const db = createDb(databaseUrl);
  await migrateToLatest(db);
  const users = new UsersRepo(db);
  const admin = (await users.getByUsername('chaos-admin')) ?? await users.create({ username: 'chaos-admin', role: 'admin', password: ADMIN_PASSWORD });
  const sessions = new Sessions({ users, secret: SECRET, ttlSeconds: 3600, feed: new AccessFeed() });
  return { db, cookie: `${SESSION_COOKIE}=${await sessions.issue(admin.id)}` };
}

/** GET/POST with the admin cookie; JSON in and out. */
export async function api<T = any>(url: string, cookie: string, method = 'GET', body?: unknown): Promise<{ status: number; body: T; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(url, {
    method, headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let parsed: any = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body: parsed as T, ms: performance.now() - t0 };
}

/** A socket.io client with the admin cookie; every event it gets is kept in order. */
export function adminSocket(url: string, cookie: string): { socket: Socket; events: Array<{ event: string; at: number; msg: any }>; close(): void } {
  const events: Array<{ event: string; at: number; msg: any }> = [];
  const socket = connectSocket(url, { path: '/socket.io', transports: ['websocket'], extraHeaders: { cookie, origin: url }, reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 500 });
  socket.onAny((event: string, msg: unknown) => events.push({ event, at: Date.now(), msg }));
  return { socket, events, close: () => socket.close() };
}
