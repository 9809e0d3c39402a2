// The composition root: config → database → migrations → (demo simulator and seed) → inventory
// (writer, read-only view, sync-state store) → sync loop → Hono app + HTTP server → hooks of other
// modules. The sync alone gets the inventory's writer; everything else gets the InventoryReader. Tests, e2e and the bench start the real server
// through startLabdeck on port 0; main.ts only adds the banner and signal handling.
import { PveCalls } from './pve/http.js';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AppConfig, ClusterConfig } from './config.js';
import { createDb, type Db } from './db/index.js';
import { DbHealth } from './db/health.js';
import { migrateToLatest } from './db/migrate.js';
import { ChangeFeed } from './inventory/changes.js';
import { InventoryRepo } from './inventory/repository.js';
import type { InventoryReader } from './inventory/reader.js';
import { SyncStateStore } from './inventory/sync-state.js';
import { ReadModel } from './inventory/read-model.js';
import { createSyncManager, type SyncManager } from './sync/manager.js';
import type { DemoOptions } from './demo.js';
import type { Simulator } from './simulator/index.js';
import { AccessFeed } from './auth/access-feed.js';
import { Access } from './auth/permissions.js';
import { linkKey } from './auth/tokens.js';
import { AuditLog } from './auth/audit-log.js';
import { Sessions, preloadSessionCrypto } from './auth/session.js';
import { SessionUsers } from './auth/session-users.js';
import { LoginThrottle, defaultThrottleLimits, type ThrottleLimits } from './auth/throttle.js';
import { UsersRepo } from './auth/users.js';
import { ClassesRepo } from './classes/repository.js';
import { ClassesService } from './classes/service.js';
import { seedDemo, DEMO_PASSWORD, DEMO_STUDENTS } from './classes/demo-seed.js';
import { PowerActions } from './actions/power.js';
import { startRecovery } from './actions/recovery.js';
import { createApp, finishApp } from './http/app.js';
import type { ApiDeps } from './http/deps.js';
import type { AppEnv } from './http/env.js';
import { log } from './log.js';
import { attachRealtime, type Realtime } from './realtime/hub.js';
import { createOps, type Ops } from './ops/attach.js';
import { resolveVisibleVm } from './auth/visible-vm.js';
import { hostPolicy } from './hosts.js';
import { exposureReport } from './ops/exposure.js';
import { ConsoleRelay } from './console/relay.js';
import { ConsoleTokenRepo } from './console/token-repo.js';
import { consoleRoutes } from './console/routes.js';
import { createProvisioning, type Provisioning } from './provision/attach.js';
import type { Shared } from './cluster/shared.js';
import { userRoom } from '../contract/rooms.js';
import { vmKey } from '../contract/vm.js';

export interface StartOptions {
  /** Overrides config.port / config.host (tests pass 0 and 127.0.0.1). */
  port?: number;
  host?: string;
  /** Clusters to sync instead of config.clusters (tests point these at their simulator). */
  clusters?: ClusterConfig[];
  /** No log lines from startup (tests). */
  quiet?: boolean;
  /** Demo simulator settings (demo mode only). */
  demo?: DemoOptions;
  /** Built client directory; default dist/client when it exists. null serves none. */
  staticRoot?: string | null;
  throttle?: Partial<ThrottleLimits>;
  /** How long a power action request waits for its task before answering 202 (default 2000 ms). */
  actionFollowMs?: number;
  /** Do not start the sync loop (tests that write the inventory themselves). */
  noSync?: boolean;
  /** How often the users table is checked for changes made by another process (default 1000 ms). */
  userPollMs?: number;
  /** Answer `GET /api/vms` from the in-memory read model (default true; false reads the database). */
  readModel?: boolean;
  /** How long a console link waits for its connection (default 30 000 ms). */
  consoleTokenTtlMs?: number;
}

export interface DemoInfo {
  simulator: Simulator;
  classId: number;
  password: string;
  users: string[];
}

export interface Labdeck {
  url: string;
  port: number;
  config: AppConfig;
  db: Db;
  feed: ChangeFeed;
  accessFeed: AccessFeed;
  sync: SyncManager;
  /** The inventory, read-only (the sync holds the writer). */
  inventory: InventoryReader;
  /** The sync's writer of the inventory: no module is handed it; here for tests that write rows themselves (noSync). */
  inventoryWriter: InventoryRepo;
  /** Each cluster's sync state (cluster_state, sync_runs): recorded by the sync, read for staleness. */
  syncState: SyncStateStore;
  /** The live inventory in memory (null when started with readModel: false). */
  reads: ReadModel | null;
  access: Access;
  sessions: Sessions;
  users: UsersRepo;
  audit: AuditLog;
  classes: ClassesService;
  classesRepo: ClassesRepo;
  power: PowerActions;
  /** Sign-in throttle (tests read its stats). */
  throttle: LoginThrottle;
  httpServer: HttpServer;
  app: Hono<AppEnv>;
  /** Demo mode only. */
  demo: DemoInfo | null;
  /** socket.io push (attached once the server listens). */
  realtime: Realtime | null;
  /** Health, readiness, metrics, alerts, retention (server/ops). */
  ops: Ops;
  /** Browser consoles relayed to Proxmox (server/console). */
  console: ConsoleRelay;
  /** Provisioning jobs, revert, reset, remove (server/provision). */
  provisioning: Provisioning;
  /** Several instances on one PostgreSQL database (config instance.shared), else null (server/cluster). */
  shared: Shared | null;
  /** Stops everything this call started (idempotent). */
  close(): Promise<void>;
}

/** What an extension started and how to stop it. */
type Closer = () => Promise<void> | void;

// The client build is <root>/dist/client both from the sources (server/server.ts) and from the
// production build (dist/server/*.js, see scripts/build-server.mjs).
const here = dirname(fileURLToPath(import.meta.url));
const defaultStaticRoot = basename(dirname(here)) === 'dist' ? join(here, '..', 'client') + '/' : join(here, '..', 'dist', 'client') + '/';

/** Starts labdeck; resolves once the HTTP server listens and the sync loop runs. */
export async function startLabdeck(config: AppConfig, opts: StartOptions = {}): Promise<Labdeck> {
  const startedAt = Date.now();
  const closers: Closer[] = [];
  const stopAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'error while shutting down');
      }
    }
  };
  try {
    let clusters = opts.clusters ?? config.clusters;
    let simulator: Simulator | null = null;
    if (config.demo && !opts.clusters && clusters.length === 0) {
      // Loaded only here: a production server never holds the simulator's code or schema.
      const { startDemoClusters } = await import('./demo.js');
      const demo = await startDemoClusters(opts.demo);
      simulator = demo.simulator;
      closers.push(() => demo.simulator.close());
      clusters = demo.clusters;
    }
    const cfg: AppConfig = { ...config, clusters };

    const dbHealth = new DbHealth();
    dbHealth.onChange((h) => {
      if (h.ok) log.info('Database available again');
      else log.error({ err: h.error }, 'Database unavailable: serving what is in memory, retrying');
    });
    const sharedDb = cfg.instance.shared;
    // A stalled instance (SIGSTOP, a frozen VM) must not hold the revision counter's lock for everyone.
    const db = createDb(cfg.databaseUrl, { health: dbHealth, ...(sharedDb ? { idleInTransactionMs: 10_000 } : {}) });
    closers.push(() => db.destroy());
    await migrateToLatest(db);

    const feed = new ChangeFeed();
    const accessFeed = new AccessFeed();
    // Loaded only for several instances: a single one never holds the coordination code.
    const shared = sharedDb ? await (await import('./cluster/shared.js')).startShared({ db, config: cfg, feed, accessFeed, logger: log }) : null;
    if (shared) closers.push(() => shared.close());
    // One view of this labdeck's Proxmox calls for the metrics, handed to every client it builds.
    const pveCalls = new PveCalls();
    const staleAfterMs = cfg.sync.staleAfterSeconds * 1000;
    const syncState = new SyncStateStore(db, { staleAfterMs });
    const writer = new InventoryRepo(db, { feed, states: syncState });
    const inventory: InventoryReader = writer;
    const sync = createSyncManager({ db, feed, config: cfg, repo: writer, states: syncState, coordinator: shared?.coordinator, pveCalls });
    const reads = opts.readModel === false ? null : new ReadModel({
      // While the database is down, the running loops' states stand in, so reads keep working.
      db, feed, clusterStates: () => syncState.clusterStates().catch((err: unknown) => {
        const states = sync.clusterStates();
        if (!states) throw err;
        return states;
      }), staleAfterMs,
    });
    if (reads) {
      await reads.start();
      closers.push(() => reads.stop());
    }
    // From the revision the read model holds: what others commit from then on reaches this instance's feed.
    if (shared) await shared.follow(writer, syncState, reads ? reads.revision() : await inventory.currentRevision());
    const users = new UsersRepo(db);
    // Created before anything that announces on the access feed, so no revocation goes unseen.
    const directory = new SessionUsers({ users, feed: accessFeed, pollMs: opts.userPollMs });
    await directory.start();
    closers.push(() => directory.stop());
    const sessions = new Sessions({
      users, secret: cfg.sessionSecret, ttlSeconds: Math.round(cfg.auth.sessionTtlHours * 3600), feed: accessFeed, directory,
    });
    // Created before any hub attaches, so its tag cache is updated before rooms are computed.
    const access = new Access(db, accessFeed, feed);
    shared?.relayAccess(() => access.reload());
    const audit = new AuditLog(db);
    const classesRepo = new ClassesRepo(db, linkKey(cfg.sessionSecret));
    const classes = new ClassesService(classesRepo, users, access, audit, inventory, () => clusters.map((c) => c.id));
    const power = new PowerActions({ backend: sync, audit, followMs: opts.actionFollowMs });
    closers.push(() => power.close());

    let demo: DemoInfo | null = null;
    if (simulator) {
      const first = simulator.clusters[0];
      const vms = first.guests().filter((g) => g.type === 'qemu' && !g.template).sort((a, b) => a.vmid - b.vmid)
        .map((g) => ({ cluster: first.id, vmid: g.vmid }));
      const classId = await seedDemo(users, classesRepo, vms);
      demo = { simulator, classId, password: DEMO_PASSWORD, users: ['admin', 'teacher', ...DEMO_STUDENTS] };
    }
    await access.reload();

    const throttle = new LoginThrottle(opts.throttle ?? defaultThrottleLimits);
    shared?.relayThrottle(throttle);
    const staticRoot = opts.staticRoot !== undefined ? opts.staticRoot : existsSync(defaultStaticRoot) ? defaultStaticRoot : null;
    const deps: ApiDeps = {
      config: cfg, users, sessions, access, audit, classes, power, sync, inventory, reads: reads ?? undefined, staticRoot,
      throttle,
    };
    const ops = createOps({ db, config: cfg, feed, sync, inventory, dbHealth, pveCalls });
    const app = createApp(deps, (_app) => {
      // ── Extension point: request middleware of other modules (runs before every route). ──
      ops.middleware(_app);
    });
    // ── Extension point: routes of other modules (mounted before the client fallback). ──
    app.route('/', ops.routes((user, vmid, cluster) => resolveVisibleVm(deps, user, vmid, cluster), (cookie) => sessions.getSessionUser(cookie)));
    const consoleTokens = new ConsoleTokenRepo(db);
    const consoleRelay = new ConsoleRelay({ config: cfg, sessions, access, accessFeed, audit, changes: feed, tokens: consoleTokens, inventory, pveCalls });
    app.route('/', consoleRoutes(deps, { tokens: consoleTokens, relay: consoleRelay, ttlMs: opts.consoleTokenTtlMs ?? 30_000 }));
    const provisioning = createProvisioning({ db, config: cfg, access, audit, classesRepo, inventory, sync, pveCalls });
    closers.push(() => provisioning.close());
    provisioning.mount(app, deps);
    finishApp(app, staticRoot);

    const httpServer = createAdaptorServer({ fetch: app.fetch }) as HttpServer;
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(opts.port ?? cfg.port, opts.host ?? cfg.host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
    // Requests under way get their answers (up to 5 s); idle keep-alive connections close at once.
    closers.push(() => new Promise<void>((resolve) => {
      const force = setTimeout(() => httpServer.closeAllConnections(), 5000);
      force.unref();
      httpServer.close(() => {
        clearTimeout(force);
        resolve();
      });
      httpServer.closeIdleConnections();
    }));
    const addr = httpServer.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

    let closed = false;
    const labdeck: Labdeck = {
      url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${addr.port}`,
      port: addr.port, config: cfg, db, feed, accessFeed, sync, inventory, inventoryWriter: writer, syncState, reads, access, sessions, users, audit, classes,
      classesRepo, power, throttle, httpServer, app, demo, realtime: null, ops, console: consoleRelay, provisioning, shared,
      close: async () => {
        if (closed) return;
        closed = true;
        await stopAll();
      },
    };

    // ── Extension point: modules that attach to the running server (e.g. attachRealtime). ──
    // Push a closer for each: closers.push(() => realtime.close())
    const socketAdapter = shared ? await import('./cluster/socket-adapter.js') : null;
    // Several instances behind a load balancer: websocket only, so no request of a socket lands on another instance.
    const realtime = attachRealtime(labdeck, { trustProxy: cfg.auth.trustProxy, hosts: hostPolicy(cfg), ...(shared ? { transports: ['websocket' as const] } : {}) });
    labdeck.realtime = realtime;
    closers.push(() => realtime.close());
    // Set in the same tick as the hub attaches, before any socket can connect.
    if (socketAdapter) closers.push(socketAdapter.attachSocketAdapter(realtime.io, cfg.databaseUrl, log));
    consoleRelay.attach(httpServer);
    consoleRelay.onWatchers = (cluster, vmid, watchers) => {
      const students = (access.snapshot().assignmentsOfVm.get(vmKey(cluster, vmid)) ?? []).map((a) => a.userId);
      const rooms = [...new Set([...students, ...watchers.map((w) => w.userId)])].map(userRoom);
      if (rooms.length) realtime.send(rooms, 'console:watchers', { cluster, vmid, watchers: watchers.map(({ name, mode }) => ({ name, mode })) });
    };
    closers.push(() => consoleRelay.close());
    await ops.start(realtime);
    closers.push(() => ops.close());
    await provisioning.start(realtime);

    if (!opts.noSync) {
      await sync.start();
      closers.push(() => sync.stop());
      // What a previous process left open (killed mid-action, or stopped while following a task).
      const recovery = startRecovery({
        audit, inventory, backend: sync, logger: log, startedAt,
        // Several instances: only what another instance let go of, or what no live one still follows (power.ts follows 15 min at most).
        ...(sharedDb ? { shared: { olderThanMs: power.backgroundMs + 60_000, sweepMs: cfg.instance.recoverySweepMs } } : {}),
      });
      closers.push(() => recovery.stop());
    }
    for (const w of exposureReport(cfg)) if (w.level === 'warn') log.warn({ fix: w.fix }, w.message);
    if (!simulator) {
      // A production server loads now what its first sign-in and first scrape would (demo mode
      // waits for them: nobody may ever sign in or scrape).
      preloadSessionCrypto();
      ops.metrics.startDefaultMetrics();
    }
    if (!opts.quiet) log.info({ url: labdeck.url, publicUrl: cfg.publicUrl ?? null, clusters: clusters.map((c) => c.id), demo: Boolean(demo) }, 'labdeck is listening');
    return labdeck;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
