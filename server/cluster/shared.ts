// Several labdeck instances on one PostgreSQL database, wired together: sync leadership per cluster
// (./leadership.ts), fenced and announced writes for the inventory repository, the follower that
// keeps this instance's view on what the others commit (./follower.ts), the leaders' statuses for
// the sync monitor, watches and passes asked of a cluster's leader, access changes relayed to
// every instance's sockets, and sign-in verdicts relayed to every instance's throttle. Loaded only when config instance.shared is set.
import type { Transaction } from 'kysely';
import type { AppConfig } from '../config.js';
import type { Db } from '../db/index.js';
import type { Database, SyncLeaderTable } from '../db/schema.js';
import type { ChangeFeed } from '../inventory/changes.js';
import type { InventoryRepo, SharedWrites } from '../inventory/repository.js';
import type { ClusterState, SyncStateStore } from '../inventory/sync-state.js';
import type { AccessFeed, AccessChanged, ProjectorRevoked, SessionRevoked } from '../auth/access-feed.js';
import type { CoordinatorHooks, SyncCoordinator } from '../sync/manager.js';
import type { WatchOptions } from '../sync/fast-lane.js';
import type { ClusterSyncStatus } from '../../contract/sync.js';
import { healthOf } from '../sync/cluster-loop.js';
import type { Logger } from '../log.js';
import type { LoginThrottle } from '../auth/throttle.js';
import { instanceName } from '../instance.js';
import { Bus, type BusMessage } from './bus.js';
import { Leadership } from './leadership.js';
import { InventoryFollower, type FollowerStats } from './follower.js';

/** A write of a pass refused: this instance no longer leads the cluster. */
export class FencedError extends Error {
  constructor(readonly cluster: string, readonly byEpoch: boolean) {
    super(byEpoch
      ? `this instance no longer leads cluster ${cluster}: another instance took over (its epoch is newer); the write was refused`
      : `this instance no longer leads cluster ${cluster}; the write was refused`);
  }
}

export interface SharedOptions {
  db: Db;
  config: AppConfig;
  feed: ChangeFeed;
  accessFeed: AccessFeed;
  logger: Logger;
}

export interface SharedStats {
  instance: string;
  led: string[];
  /** Writes of passes refused, per cluster: by the epoch in the database, or before asking it. */
  fenced: Record<string, { byEpoch: number; notLeader: number }>;
  follower: FollowerStats | null;
}

export interface Shared {
  readonly instance: string;
  readonly coordinator: SyncCoordinator;
  /** Fenced, announced writes for the repository and the sync-state store; starts following the others' writes from `from`. */
  follow(repo: InventoryRepo, syncStates: SyncStateStore, from: number): Promise<void>;
  /** Relays sign-in verdicts between instances, so a guesser's failures count on every one. */
  relayThrottle(throttle: LoginThrottle): void;
  /** Relays access changes between instances; `reload` re-reads permissions before a relayed change is announced here. */
  relayAccess(reload: () => Promise<void>): void;
  stats(): SharedStats;
  close(): Promise<void>;
}

type LeaderRow = SyncLeaderTable;

/** Starts the bus (LISTEN); leadership starts with the sync manager. */
export async function startShared(o: SharedOptions): Promise<Shared> {
  const me = instanceName(o.config);
  const inst = o.config.instance;
  const logger = o.logger.child({ module: 'instances', instance: me });
  const bus = new Bus(o.config.databaseUrl, me, logger);
  await bus.start();
  const staleAfterMs = o.config.sync.staleAfterSeconds * 1000;
  const clusterIds = o.config.clusters.map((c) => c.id);
  let hooks: CoordinatorHooks | null = null;
  let throttle: LoginThrottle | null = null;
  let syncStates: SyncStateStore | null = null;
  let follower: InventoryFollower | null = null;
  const leaders = new Map<string, LeaderRow>();
  const states = new Map<string, ClusterState>();
  const fenced: SharedStats['fenced'] = {};
  const countFenced = (cluster: string, byEpoch: boolean) => {
    const f = (fenced[cluster] ??= { byEpoch: 0, notLeader: 0 });
    if (byEpoch) f.byEpoch++;
    else f.notLeader++;
  };

  const leadership = new Leadership({
    url: o.config.databaseUrl, instance: me, clusters: clusterIds,
    retryMs: inst.leaderRetryMs, pingMs: inst.lockPingMs, lockTimeoutMs: inst.lockTimeoutMs, logger,
    onLead: async (cluster) => { await hooks?.lead(cluster, leadership.epochOf(cluster)!); },
    onLose: async (cluster) => {
      await hooks?.lose(cluster);
      void readStates();
    },
  });

  /** The leaders' rows and every cluster's state, as the other instances stored them. */
  let statesReading: Promise<void> | null = null;
  const readStates = (): Promise<void> => {
    statesReading ??= (async () => {
      try {
        const [rows, st] = await Promise.all([
          o.db.selectFrom('sync_leader').selectAll().execute(),
          o.db.selectFrom('cluster_state').selectAll().execute(),
        ]);
        let changed = false;
        for (const r of rows) {
          const before = leaders.get(r.cluster_id);
          if (!before || before.epoch !== r.epoch || before.renewed_at !== r.renewed_at || before.holder !== r.holder) changed = true;
          leaders.set(r.cluster_id, r);
        }
        for (const s of st) {
          states.set(s.cluster_id, s);
          if (leadership.epochOf(s.cluster_id) === null) syncStates?.adoptState(s);
        }
        if (changed) hooks?.statusChanged();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'Could not read the other instances\' sync status');
      } finally {
        statesReading = null;
      }
    })();
    return statesReading;
  };

  const onMessage = (m: BusMessage) => {
    switch (m.k) {
      case 'inventory':
        if (m.i !== me) void follower?.poke(m.r);
        break;
      case 'state':
      case 'leader':
        if (m.i !== me) void readStates();
        break;
      case 'watch':
        if (leadership.epochOf(m.c) !== null) {
          const opts: WatchOptions = {};
          if (m.x) opts.expect = m.x;
          if (m.s) opts.settled = true;
          hooks?.watch(m.c, m.v, opts);
        }
        break;
      case 'trigger':
        if (leadership.epochOf(m.c) !== null) hooks?.trigger(m.c, m.t);
        break;
      case 'signin':
        if (m.i !== me) throttle?.remoteVerdict(m.a, m.ip, m.ok, m.t);
        break;
      default:
        relayIn(m);
    }
  };
  bus.on('message', onMessage);
  bus.on('reconnected', () => {
    void follower?.poke();
    void readStates();
  });
  const timer = setInterval(() => {
    void follower?.poke();
    void readStates();
  }, inst.followIntervalMs);
  timer.unref();

  const send = (msg: Parameters<Bus['send']>[1]) => {
    bus.send(o.db, msg).catch((err: Error) => logger.warn({ err: err.message, kind: msg.k }, 'Could not tell the other instances'));
  };

  // ---- access changes: relayed both ways; a relayed one is announced here without being sent back.
  let relaying = false;
  let reloadAccess: (() => Promise<void>) | null = null;
  const localAccess = (change: AccessChanged) => { if (!relaying) send({ k: 'access', u: change.userIds, cl: change.classIds }); };
  const localSession = (e: SessionRevoked) => { if (!relaying) send({ k: 'session', u: e.userId }); };
  const localProjector = (e: ProjectorRevoked) => { if (!relaying) send({ k: 'projector', h: e.tokenHash, cl: e.classId }); };
  const announce = (fn: () => void) => {
    relaying = true;
    try {
      fn();
    } finally {
      relaying = false;
    }
  };
  let accessChain: Promise<void> = Promise.resolve();
  function relayIn(m: BusMessage): void {
    if (m.i === me || !reloadAccess) return;
    const reload = reloadAccess;
    accessChain = accessChain.then(async () => {
      if (m.k === 'access') {
        await reload();
        announce(() => o.accessFeed.emit('access:changed', { userIds: m.u, classIds: m.cl }));
      } else if (m.k === 'session') {
        announce(() => o.accessFeed.emit('session:revoked', { userId: m.u }));
      } else if (m.k === 'projector') {
        await reload();
        announce(() => o.accessFeed.emit('projector:revoked', { tokenHash: m.h, classId: m.cl }));
      }
    }).catch((err: Error) => logger.warn({ err: err.message }, 'Could not apply an access change from another instance'));
  }

  const writes: SharedWrites = {
    async fence(trx: Transaction<Database>, cluster: string, withStatus: boolean) {
      // The database decides, not what this instance believes: a stalled leader believes it still leads.
      const epoch = leadership.lastEpochOf(cluster);
      if (epoch === null) {
        countFenced(cluster, false);
        throw new FencedError(cluster, false);
      }
      const status = withStatus ? hooks?.status(cluster) : null;
      const r = await trx.updateTable('sync_leader')
        .set({ renewed_at: Date.now(), ...(status ? { status: JSON.stringify(status) } : {}) })
        .where('cluster_id', '=', cluster).where('holder', '=', me).where('epoch', '=', epoch)
        .returning('epoch').executeTakeFirst();
      if (!r) {
        countFenced(cluster, true);
        logger.warn({ cluster, epoch }, `A write of cluster ${cluster}'s sync was refused: another instance took over (epoch ${epoch} is over)`);
        // After the refusal is thrown: the lock (if still held) is given back and the loop stopped.
        setImmediate(() => void leadership.resign(cluster, 'another instance took over (its epoch is newer)'));
        throw new FencedError(cluster, true);
      }
    },
    async notify(trx, cluster, kind, revision) {
      await bus.send(trx, kind === 'inventory' ? { k: 'inventory', c: cluster, r: revision ?? 0 } : { k: 'state', c: cluster });
    },
  };

  const coordinator: SyncCoordinator = {
    async start(h) {
      hooks = h;
      await readStates();
      await leadership.start();
    },
    async stop() {
      await leadership.stop();
      hooks = null;
    },
    remoteStatus(cluster) {
      const row = leaders.get(cluster);
      if (!row) return null;
      let status: ClusterSyncStatus | null = null;
      try {
        status = row.status ? JSON.parse(row.status) as ClusterSyncStatus : null;
      } catch {
        status = null;
      }
      if (!status) return null;
      const state = states.get(cluster);
      const judged = state ? healthOf(state, staleAfterMs, Date.now()) : { stale: status.stale, health: status.health };
      return { ...status, ...judged, leader: row.holder };
    },
    forwardWatch(cluster, vmid, opts) {
      send({ k: 'watch', c: cluster, v: vmid, ...(opts.expect ? { x: opts.expect } : {}), ...(opts.settled ? { s: true } : {}) });
    },
    forwardTrigger(cluster, kind) {
      send({ k: 'trigger', c: cluster, t: kind });
    },
    info: () => ({ led: leadership.led(), fenced: structuredClone(fenced) }),
  };

  return {
    instance: me,
    coordinator,
    async follow(r, st, from) {
      syncStates = st;
      r.attachShared(writes);
      st.attachShared(writes);
      follower = new InventoryFollower({ db: o.db, feed: o.feed, repo: r, from, logger });
      await follower.poke();
    },
    relayThrottle(t) {
      throttle = t;
      // Only the account and address (as the throttle keys them), never a password.
      t.onVerdict = (account, address, ok, at) => send({ k: 'signin', a: account.slice(0, 256), ip: address.slice(0, 128), ok, t: at });
    },
    relayAccess(reload) {
      reloadAccess = reload;
      o.accessFeed.on('access:changed', localAccess);
      o.accessFeed.on('session:revoked', localSession);
      o.accessFeed.on('projector:revoked', localProjector);
    },
    stats: () => ({ instance: me, led: leadership.led(), fenced: structuredClone(fenced), follower: follower ? { ...follower.stats } : null }),
    async close() {
      clearInterval(timer);
      if (throttle) throttle.onVerdict = null;
      follower?.stop();
      o.accessFeed.off('access:changed', localAccess);
      o.accessFeed.off('session:revoked', localSession);
      o.accessFeed.off('projector:revoked', localProjector);
      await accessChain;
      await bus.stop();
    },
  };
}
