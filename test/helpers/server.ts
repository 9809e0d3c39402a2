// A real labdeck for integration tests: an in-process simulator (tiny, fast tasks), a fresh
// database, startLabdeck on port 0, users created on demand, a login helper and a fetch wrapper.
// The web, ops and bench tests reuse it; keep it general.
import { randomBytes, randomUUID } from 'node:crypto';
import { parseFileConfig, type AppConfig, type FileConfig } from '../../server/config.js';
import { startSimulator, type SimOptions, type SimUser, type Simulator, type SimCluster, type StorageId } from '../../server/simulator/index.js';
import { startLabdeck, type Labdeck, type StartOptions } from '../../server/server.js';
import type { Role } from '../../server/db/schema.js';
import type { User } from '../../server/auth/users.js';
import { makeTestDatabase } from './db.js';
import type { ScopeRule } from '../../server/auth/scope.js';

/** Password every user made by `createUser` gets unless told otherwise. */
export const TEST_PASSWORD = 'password-1234';

export interface TestServerOptions {
  /** Simulated clusters (default one: 'lab-a', 1 node, 30 guests, seed 7). */
  clusters?: Array<{ id: string; name?: string; nodes?: number; guests?: number; seed?: number; users?: SimUser[]; login?: unknown; console?: unknown; termproxyTokenLogin?: boolean; storage?: StorageId; tokenPrivileges?: string[] }>;
  /** Extra fields for every cluster's config entry (e.g. `{ timeoutMs: 1500 }`). */
  clusterConfig?: Record<string, unknown>;
  /** Runs once the simulator is up and before labdeck starts (to set the scene its first pass sees). */
  beforeStart?: (sim: Simulator) => void | Promise<void>;
  /** Simulator settings (defaults: pvestatd 0, no 401 delay, 150 ms tasks, IPs at once, no activity). */
  sim?: Partial<Omit<SimOptions, 'clusters'>>;
  /** Default sqlite, or postgres when LABDECK_TEST_DIALECT=postgres. */
  dialect?: 'sqlite' | 'postgres';
  /** Extra config sections (e.g. `{ sync: { quickIntervalSeconds: 1 } }`), parsed like a config file. */
  config?: Record<string, unknown>;
  start?: StartOptions;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the answer is JSON, else undefined. */
  body: T;
  text: string;
}

export interface RequestOptions {
  cookie?: string | null;
  body?: unknown;
  /** Raw body text (overrides body). */
  raw?: string;
  headers?: Record<string, string>;
}

export interface TestServer {
  labdeck: Labdeck;
  sim: Simulator;
  /** The first simulated cluster. */
  cluster: SimCluster;
  url: string;
  /** Makes a local user (password TEST_PASSWORD unless given). */
  createUser(username: string, role: Role, password?: string): Promise<User>;
  /** Signs in over HTTP and returns the Cookie header value for later requests. */
  login(username: string, password?: string): Promise<string>;
  /** One HTTP request against the server; JSON bodies are sent and parsed. */
  request<T = any>(method: string, path: string, opts?: RequestOptions): Promise<ApiResponse<T>>;
  /** Waits until a sync pass has stored every guest of every cluster. */
  synced(): Promise<void>;
  /** Gives a class a scope as an admin would (default: the whole of the first cluster). */
  grantScope(classId: number, rules?: ScopeRule[]): Promise<void>;
  close(): Promise<void>;
}

/** The Cookie header value from a Set-Cookie answer (name=value only). */
export function cookieFrom(headers: Headers): string | null {
  const set = headers.getSetCookie?.() ?? [];
  const c = set.find((x) => x.startsWith('labdeck_session='));
  return c ? c.split(';')[0] : null;
}

/** Starts simulator + labdeck; call close() in afterAll. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const clusterOpts = opts.clusters ?? [{ id: 'lab-a', nodes: 1, guests: 30, seed: 7 }];
  const sim = await startSimulator({
    clusters: clusterOpts.map((c) => ({ id: c.id, name: c.name, nodes: c.nodes ?? 1, guests: c.guests ?? 30, seed: c.seed ?? 7, tokenSecret: randomUUID(), users: c.users, termproxyTokenLogin: c.termproxyTokenLogin, storage: c.storage, tokenPrivileges: c.tokenPrivileges })),
    pvestatdIntervalMs: 0,
    unauthorizedDelayMs: 0,
    ipDelayMs: 0,
    agentTimeoutMs: 50,
    activity: false,
    taskDurationMs: { start: 150, stop: 150, shutdown: 150, reboot: 150 },
    ...opts.sim,
  });
  try {
    await opts.beforeStart?.(sim);
  } catch (err) {
    await sim.close();
    throw err;
  }
  // LABDECK_TEST_DIALECT=postgres runs every server test on PostgreSQL (needs TEST_DATABASE_URL).
  const dialect = opts.dialect ?? (process.env.LABDECK_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite');
  const db = await makeTestDatabase(dialect);
  const file: FileConfig = parseFileConfig({
    sync: { fullIntervalSeconds: 300, quickIntervalSeconds: 300, fastIntervalMs: 100 },
    ...opts.config,
    clusters: sim.clusters.map((c, i) => ({
      id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, probePorts: false,
      ...(clusterOpts[i].name ? { name: clusterOpts[i].name } : {}), ...opts.clusterConfig,
      ...(clusterOpts[i].login ? { login: clusterOpts[i].login } : {}),
      ...(clusterOpts[i].console ? { console: clusterOpts[i].console } : {}),
    })),
  });
  const config: AppConfig = {
    ...file, port: 0, host: '127.0.0.1', databaseUrl: db.url, sessionSecret: randomBytes(32).toString('hex'), demo: false, configPath: null,
  };
  let labdeck: Labdeck;
  try {
    labdeck = await startLabdeck(config, { quiet: true, staticRoot: null, ...opts.start });
  } catch (err) {
    await sim.close();
    await db.drop();
    throw err;
  }

  const request = async <T>(method: string, path: string, o: RequestOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.cookie) headers.cookie = o.cookie;
    let body: string | undefined = o.raw;
    if (body === undefined && o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const res = await fetch(labdeck.url + path, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    let parsed: any;
    if ((res.headers.get('content-type') ?? '').includes('application/json') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };

  // Every guest of the simulator in the inventory, named and with its template flag: a guest created
  // a moment ago is first listed as a bare stub (pvestatd has not broadcast it), which is not synced.
  const synced = async () => {
    const want = sim.clusters.flatMap((c) => c.guests().map((g) => `${c.id}:${g.vmid}:${g.template}`));
    const deadline = Date.now() + 20_000;
    for (;;) {
      await labdeck.sync.trigger({ kind: 'full' });
      const have = new Set((await labdeck.inventory.list()).filter((v) => v.name !== '').map((v) => `${v.id}:${v.template}`));
      const missing = want.filter((k) => !have.has(k));
      if (missing.length === 0) return;
      if (Date.now() > deadline) throw new Error(`inventory lacks ${missing.length} of ${want.length} guests as the simulator has them (${missing.slice(0, 3).join(', ')})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  return {
    labdeck, sim, cluster: sim.clusters[0], url: labdeck.url,
    createUser: (username, role, password = TEST_PASSWORD) => labdeck.users.create({ username, role, password }),
    login: async (username, password = TEST_PASSWORD) => {
      const res = await request('POST', '/api/auth/login', { body: { username, password } });
      const cookie = cookieFrom(res.headers);
      if (res.status !== 200 || !cookie) throw new Error(`login of ${username} failed: ${res.status} ${res.text}`);
      return cookie;
    },
    request,
    synced,
    grantScope: async (classId, rules = [{ cluster: sim.clusters[0].id, kind: 'cluster' }]) => {
      await labdeck.classesRepo.setScope(classId, rules, null);
      await labdeck.access.changed({ userIds: [], classIds: [classId] });
    },
    close: async () => {
      await labdeck.close();
      await sim.close();
      await db.drop();
    },
  };
}
