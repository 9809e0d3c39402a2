// vm_inventory and its companions (revision_counter, vm_events) behind one class; the clusters'
// sync state (cluster_state, sync_runs) is the SyncStateStore's, read here only for staleness.
// Only the sync writes through this class; everyone else holds it as an InventoryReader (reader.ts).
// Every write takes revisions from the one counter inside its transaction and is announced on the
// ChangeFeed only after the commit. The writers' view of each cluster's rows is
// kept in memory (read from the database once, then updated by every write this process commits),
// so a pass that finds nothing to change costs no query at all. That holds while one labdeck
// process owns its database: every vm_inventory write goes through this class. With several
// instances on one PostgreSQL database (server/cluster attaches SharedWrites), each write first
// reads what the others committed since, under the revision counter's lock, and is fenced by the
// cluster's sync epoch and announced to the other instances in its own transaction.
import { SyncStateStore } from './sync-state.js';
import { searchNeedle } from '../../contract/vm-search.js';
import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { dialectOfDb, type Db } from '../db/index.js';
import type { ChangeFeed } from './changes.js';
import { toVm, type InventoryRow } from './row.js';
import { parseVmKey, pendingStatuses, vmKey, type Vm, type VmStatus, type VmType } from '../../contract/vm.js';
import { addressFollowsStatus, statusChange, type VmEventInput } from './diff.js';

export interface VmFilter {
  cluster?: string;
  node?: string;
  status?: string;
  type?: VmType;
  category?: string;
  tag?: string;
  /** Free text: part of the name, the exact vmid, or part of the IP. */
  q?: string;
  /** Only these `${cluster}:${vmid}` keys (permissions). */
  keys?: readonly string[];
}

/** What a writer hands in: rows (revision is assigned here), tombstones and events. */
export interface Changes {
  upserts: InventoryRow[];
  tombstones: InventoryRow[];
  events: VmEventInput[];
}

export interface ApplyResult { revision: number | null; changed: Vm[]; removed: string[] }

/** The stored rows of a cluster as a write is decided from them (see applyPlan). */
export interface StoredView {
  rows: InventoryRow[];
  /** storedVersion() of these rows. */
  version: number;
  /** vmids of the cluster's rows written after its stored rows had version `version` (see changedSince). */
  changedSince(version: number): number[];
}

/** What a writer's decision comes to: the changes to write and whatever else it decided. */
export interface Planned<P> { write: Changes; plan: P }

/** What a repository shared with other instances does inside its write transactions (server/cluster). */
export interface SharedWrites {
  /** Throws unless this instance still leads `cluster`'s sync (its epoch); `withStatus` also stores its status. */
  fence(trx: Transaction<Database>, cluster: string, withStatus: boolean): Promise<void>;
  /** Tells the other instances (pg_notify, delivered at commit). */
  notify(trx: Transaction<Database>, cluster: string, kind: 'inventory' | 'state', revision: number | null): Promise<void>;
}

export interface ApplyOptions {
  /** A write labdeck decided on any instance (a power action's state): not fenced by the sync epoch. */
  unfenced?: boolean;
}

export interface InventoryRepoOptions {
  feed?: ChangeFeed;
  /** The clusters' sync state, which the reads judge staleness by (default: a store of its own). */
  states?: SyncStateStore;
  /** A cluster without a successful pass for this long reads as stale (default 90 s; only without `states`). */
  staleAfterMs?: number;
  now?: () => number;
}

const CHUNK = 500;
const ROW_COLUMNS: ReadonlyArray<keyof InventoryRow> = [
  'name', 'node', 'type', 'status', 'started_at', 'cpu_usage', 'memory_usage', 'ip', 'ip_reason', 'mac_address',
  'rdp_available', 'ssh_available', 'memory', 'cores', 'disk_size', 'is_template', 'tags', 'category', 'ostype',
  'pool', 'lock', 'last_updated', 'last_seen', 'last_status_check', 'sync_error', 'revision', 'deleted',
];

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The rows of `vmids` (in that order, unknown ones left out), or all of them. */
function pick(rows: ReadonlyMap<number, InventoryRow>, vmids?: readonly number[]): InventoryRow[] {
  if (!vmids) return [...rows.values()];
  const out: InventoryRow[] = [];
  for (const id of vmids) {
    const r = rows.get(id);
    if (r) out.push(r);
  }
  return out;
}

/** The inventory's reads and writes. */
export class InventoryRepo {
  readonly db: Db;
  private readonly feed: ChangeFeed | undefined;
  private readonly states: SyncStateStore;
  private readonly now: () => number;
  private readonly pg: boolean;
  /** cluster → vmid → stored row (tombstones included): the database's rows as this process last wrote or read them. */
  private readonly stored = new Map<string, Map<number, InventoryRow>>();
  /** cluster → how many writes have changed its stored rows (so a caller can tell they are as it last saw them). */
  private readonly versions = new Map<string, number>();
  /** cluster → vmid → the version in which that row last changed. */
  private readonly rowVersions = new Map<string, Map<number, number>>();
  /** Writes run one at a time in this process, each computed from the rows the previous one left. */
  private writeQueue: Promise<unknown> = Promise.resolve();
  private shared: SharedWrites | null = null;
  /** cluster → revision up to which `stored` holds every committed row of it (shared database only). */
  private readonly syncedTo = new Map<string, number>();

  constructor(db: Db, opts: InventoryRepoOptions = {}) {
    this.db = db;
    this.feed = opts.feed;
    this.now = opts.now ?? Date.now;
    this.states = opts.states ?? new SyncStateStore(db, { staleAfterMs: opts.staleAfterMs, now: this.now });
    this.pg = dialectOfDb(db) === 'postgres';
  }

  /** Shares the database with other instances: fenced, catching-up, announced writes (PostgreSQL). */
  attachShared(shared: SharedWrites): void {
    this.shared = shared;
  }

  /**
   * Rows another instance committed (read by server/cluster's follower): kept where newer than
   * the stored copy, so the passes' and the fast lane's view follows them.
   */
  absorb(rows: readonly InventoryRow[]): Promise<void> {
    return this.serial(async () => {
      const byCluster = new Map<string, InventoryRow[]>();
      for (const r of rows) {
        const cur = this.stored.get(r.cluster_id)?.get(r.vmid);
        if (!this.stored.has(r.cluster_id) || (cur && cur.revision >= r.revision)) continue;
        const list = byCluster.get(r.cluster_id) ?? [];
        list.push(r);
        byCluster.set(r.cluster_id, list);
      }
      for (const [cluster, list] of byCluster) this.merge(cluster, this.stored.get(cluster)!, list);
    });
  }

  /** Drops the stored rows of a cluster (this instance takes over its sync: read them afresh). */
  forget(cluster: string): Promise<void> {
    return this.serial(async () => {
      this.stored.delete(cluster);
      this.syncedTo.delete(cluster);
      this.versions.set(cluster, this.storedVersion(cluster) + 1);
      this.rowVersions.delete(cluster);
    });
  }

  /** Cluster id → is its data stale now. */
  private staleness(): Promise<(cluster: string) => boolean> {
    return this.states.staleness();
  }

  /** Live (not removed) VMs, filtered, ordered by cluster then vmid. */
  async list(filter: VmFilter = {}): Promise<Vm[]> {
    if (filter.keys && filter.keys.length === 0) return [];
    let q = this.db.selectFrom('vm_inventory').selectAll().where('deleted', '=', 0);
    if (filter.cluster) q = q.where('cluster_id', '=', filter.cluster);
    if (filter.node) q = q.where('node', '=', filter.node);
    if (filter.status) q = q.where('status', '=', filter.status);
    if (filter.type) q = q.where('type', '=', filter.type);
    if (filter.category) q = q.where('category', '=', filter.category);
    if (filter.tag) {
      const pattern = `%;${escapeLike(filter.tag)};%`;
      q = q.where(sql<boolean>`(';' || tags || ';') like ${pattern} escape '\\'`);
    }
    const needle = searchNeedle(filter.q);
    if (needle) {
      // contract/vm-search.ts in SQL: a part of the name, node, pool or a tag; the start of the vmid or IP.
      const part = `%${escapeLike(needle)}%`;
      const start = `${escapeLike(needle)}%`;
      q = q.where((eb) => eb.or([
        eb(sql`lower(name)`, 'like', sql`${part} escape '\\'`),
        eb(sql`lower(node)`, 'like', sql`${part} escape '\\'`),
        eb(sql`lower(coalesce(pool, ''))`, 'like', sql`${part} escape '\\'`),
        // Tags are stored joined by ';': a needle without one matches inside a single tag only.
        ...(needle.includes(';') ? [] : [eb(sql`lower(tags)`, 'like', sql`${part} escape '\\'`)]),
        eb(sql`cast(vmid as text)`, 'like', sql`${start} escape '\\'`),
        eb(sql`lower(coalesce(ip, ''))`, 'like', sql`${start} escape '\\'`),
      ]));
    }
    if (filter.keys) {
      const byCluster = new Map<string, number[]>();
      for (const k of filter.keys) {
        const p = parseVmKey(k);
        if (!p) continue;
        const list = byCluster.get(p.cluster) ?? [];
        list.push(p.vmid);
        byCluster.set(p.cluster, list);
      }
      if (!byCluster.size) return [];
      q = q.where((eb) => eb.or([...byCluster].map(([c, ids]) => eb.and([eb('cluster_id', '=', c), eb('vmid', 'in', ids)]))));
    }
    const [rows, stale] = await Promise.all([q.orderBy('cluster_id').orderBy('vmid').execute(), this.staleness()]);
    return rows.map((r) => toVm(r, stale(r.cluster_id)));
  }

  /** The current value of the global revision counter. */
  async currentRevision(): Promise<number> {
    const r = await this.db.selectFrom('revision_counter').select('value').where('id', '=', 1).executeTakeFirst();
    return r?.value ?? 0;
  }

  /** Everything changed or removed after `revision` (for a client that reconnects). */
  async since(revision: number): Promise<{ revision: number; vms: Vm[]; removed: string[] }> {
    // Counter first: rows commit in revision order (the counter row serialises writers), so nothing
    // at or below this value can still appear later.
    const current = await this.currentRevision();
    const rows = await this.db.selectFrom('vm_inventory').selectAll().where('revision', '>', revision).orderBy('revision').execute();
    const stale = await this.staleness();
    const vms: Vm[] = [];
    const removed: string[] = [];
    let top = current;
    for (const r of rows) {
      top = Math.max(top, r.revision);
      if (r.deleted) removed.push(vmKey(r.cluster_id, r.vmid));
      else vms.push(toVm(r, stale(r.cluster_id)));
    }
    return { revision: top, vms, removed };
  }

  /** One VM by identity; null when unknown or removed. */
  async get(cluster: string, vmid: number): Promise<Vm | null> {
    const row = await this.db.selectFrom('vm_inventory').selectAll()
      .where('cluster_id', '=', cluster).where('vmid', '=', vmid).where('deleted', '=', 0).executeTakeFirst();
    if (!row) return null;
    return toVm(row, (await this.staleness())(cluster));
  }

  /** Every live VM with this vmid across clusters (more than one means the vmid is ambiguous). */
  async findByVmid(vmid: number): Promise<Vm[]> {
    const rows = await this.db.selectFrom('vm_inventory').selectAll()
      .where('vmid', '=', vmid).where('deleted', '=', 0).orderBy('cluster_id').execute();
    const stale = await this.staleness();
    return rows.map((r) => toVm(r, stale(r.cluster_id)));
  }

  /** Every live VM with one of these vmids, on any cluster (a few queries for any number of ids). */
  async findByVmids(vmids: readonly number[]): Promise<Vm[]> {
    if (vmids.length === 0) return [];
    const stale = await this.staleness();
    const out: Vm[] = [];
    for (let i = 0; i < vmids.length; i += 500) {
      const rows = await this.db.selectFrom('vm_inventory').selectAll()
        .where('vmid', 'in', vmids.slice(i, i + 500)).where('deleted', '=', 0).orderBy('cluster_id').orderBy('vmid').execute();
      for (const r of rows) out.push(toVm(r, stale(r.cluster_id)));
    }
    return out;
  }

  /** Live VMs in a pending state (a power action was under way), for the recovery after a restart. */
  async pendingRows(): Promise<Array<{ cluster_id: string; vmid: number; status: string }>> {
    return this.db.selectFrom('vm_inventory').select(['cluster_id', 'vmid', 'status'])
      .where('deleted', '=', 0).where('status', 'in', [...pendingStatuses]).orderBy('cluster_id').orderBy('vmid').execute();
  }

  /** Counts of live VMs per cluster and status. */
  async summary(): Promise<{ byCluster: Record<string, Record<string, number>>; total: number }> {
    const rows = await this.db.selectFrom('vm_inventory')
      .select(['cluster_id', 'status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('deleted', '=', 0).groupBy(['cluster_id', 'status']).execute();
    const byCluster: Record<string, Record<string, number>> = {};
    let total = 0;
    for (const r of rows) {
      const n = Number(r.n);
      (byCluster[r.cluster_id] ??= {})[r.status] = n;
      total += n;
    }
    return { byCluster, total };
  }

  /** Stored rows of one cluster, tombstones included (what a pass diffs against). Shared: read-only. */
  async storedRows(cluster: string, vmids?: readonly number[]): Promise<InventoryRow[]> {
    const rows = this.stored.get(cluster) ?? await this.serial(() => this.rowsOf(cluster));
    return pick(rows, vmids);
  }

  /** A number that changes whenever the stored rows of `cluster` change. */
  storedVersion(cluster: string): number {
    return this.versions.get(cluster) ?? 0;
  }

  /** vmids of the cluster's rows written after its stored rows had version `version`. */
  changedSince(cluster: string, version: number): number[] {
    const out: number[] = [];
    for (const [vmid, v] of this.rowVersions.get(cluster) ?? []) if (v > version) out.push(vmid);
    return out;
  }

  /** Runs `fn` after every write queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeQueue.then(fn, fn);
    this.writeQueue = run.catch(() => undefined);
    return run;
  }

  /** The in-memory rows of a cluster, read from the database the first time (call inside serial()). */
  private async rowsOf(cluster: string): Promise<Map<number, InventoryRow>> {
    let rows = this.stored.get(cluster);
    if (!rows) {
      // Counter first: every row committed up to it is in the read that follows.
      if (this.shared) this.syncedTo.set(cluster, await this.currentRevision());
      const read = await this.db.selectFrom('vm_inventory').selectAll().where('cluster_id', '=', cluster).execute();
      rows = new Map(read.map((r) => [r.vmid, r]));
      this.stored.set(cluster, rows);
    }
    return rows;
  }

  /**
   * The one write path: one write at a time, `compute` (pure) decides the changes from the stored
   * rows, which are written with fresh revisions in a transaction and announced after the commit.
   * When `compute` finds nothing to do, the database is not touched. `compute` must not modify
   * the rows it is given (they are the stored copies).
   */
  async apply(cluster: string, compute: (stored: InventoryRow[]) => Changes, vmids?: readonly number[], opts: ApplyOptions = {}): Promise<ApplyResult> {
    const { revision, changed, removed } = await this.applyPlan(cluster, (view) => ({ write: compute(view.rows), plan: null }), vmids, opts);
    return { revision, changed, removed };
  }

  /**
   * apply() for a writer that decides more than the changes (a sync pass): `decide` (pure) returns
   * the changes to write and its plan, from the stored rows as they are when the write runs. It
   * may run again in the same write (rows another instance committed came in first); the plan
   * returned is the one whose changes were written.
   */
  async applyPlan<P>(cluster: string, decide: (view: StoredView) => Planned<P>, vmids?: readonly number[], opts: ApplyOptions = {}): Promise<ApplyResult & { plan: P }> {
    const { written, tombstoned, revision, plan } = await this.serial(async () => {
      const rows = await this.rowsOf(cluster);
      const view = (): StoredView => ({
        rows: pick(rows, vmids), version: this.storedVersion(cluster), changedSince: (v) => this.changedSince(cluster, v),
      });
      let decided = decide(view());
      const { upserts, tombstones, events } = decided.write;
      if (!upserts.length && !tombstones.length && !events.length) {
        return { written: [], tombstoned: [], revision: null, plan: decided.plan };
      }
      const shared = this.shared;
      const done = await this.db.transaction().execute(async (trx) => {
        // A second process on the same PostgreSQL database still takes revisions in commit order.
        const locked = this.pg ? await trx.selectFrom('revision_counter').select('value').where('id', '=', 1).forUpdate().executeTakeFirst() : undefined;
        if (!shared) return this.write(trx, decided.write);
        if (!opts.unfenced) await shared.fence(trx, cluster, false);
        // What other instances committed since this one last saw the cluster: decided again from it.
        const fresh = await trx.selectFrom('vm_inventory').selectAll()
          .where('cluster_id', '=', cluster).where('revision', '>', this.syncedTo.get(cluster) ?? 0).execute();
        if (fresh.length) {
          this.merge(cluster, rows, fresh);
          decided = decide(view());
        }
        const res = await this.write(trx, decided.write);
        this.syncedTo.set(cluster, Math.max(locked?.value ?? 0, res.revision ?? 0));
        if (res.revision !== null) await shared.notify(trx, cluster, 'inventory', res.revision);
        return res;
      });
      if (done.written.length || done.tombstoned.length) this.merge(cluster, rows, [...done.written, ...done.tombstoned]);
      return { ...done, plan: decided.plan };
    });
    const result: ApplyResult = { revision, changed: written.map((r) => toVm(r, false)), removed: tombstoned.map((r) => vmKey(r.cluster_id, r.vmid)) };
    this.announce(result, tombstoned.length ? tombstoned[tombstoned.length - 1].revision : null);
    return { ...result, plan };
  }

  /** Stores rows as the database now holds them, as one more version of the cluster's rows. */
  private merge(cluster: string, rows: Map<number, InventoryRow>, changed: readonly InventoryRow[]): void {
    const version = this.storedVersion(cluster) + 1;
    this.versions.set(cluster, version);
    let changedIn = this.rowVersions.get(cluster);
    if (!changedIn) this.rowVersions.set(cluster, (changedIn = new Map()));
    for (const r of changed) {
      rows.set(r.vmid, r);
      changedIn.set(r.vmid, version);
    }
  }

  private async write(trx: Transaction<Database>, changes: Changes): Promise<{ written: InventoryRow[]; tombstoned: InventoryRow[]; revision: number | null }> {
    const n = changes.upserts.length + changes.tombstones.length;
    if (n === 0) {
      if (changes.events.length) await this.insertEvents(trx, changes.events);
      return { written: [], tombstoned: [], revision: null };
    }
    const { value: end } = await trx.updateTable('revision_counter')
      .set((eb) => ({ value: eb('value', '+', n) })).where('id', '=', 1)
      .returning('value').executeTakeFirstOrThrow();
    let rev = end - n + 1;
    const written = changes.upserts.map((r) => ({ ...r, revision: rev++ }));
    const tombstoned = changes.tombstones.map((r) => ({ ...r, revision: rev++ }));
    const all = [...written, ...tombstoned];
    for (let i = 0; i < all.length; i += CHUNK) {
      await trx.insertInto('vm_inventory').values(all.slice(i, i + CHUNK))
        .onConflict((oc) => oc.columns(['cluster_id', 'vmid']).doUpdateSet((eb) =>
          Object.fromEntries(ROW_COLUMNS.map((c) => [c, eb.ref(`excluded.${c}`)])) as never))
        .execute();
    }
    await this.insertEvents(trx, changes.events);
    return { written, tombstoned, revision: end };
  }

  private async insertEvents(trx: Transaction<Database>, events: VmEventInput[]): Promise<void> {
    for (let i = 0; i < events.length; i += CHUNK) {
      await trx.insertInto('vm_events').values(events.slice(i, i + CHUNK)).execute();
    }
  }

  private announce(result: ApplyResult, removedRevision: number | null): void {
    if (!this.feed || result.revision === null) return;
    if (result.changed.length) {
      this.feed.emit('vm:changed', { revision: result.changed[result.changed.length - 1].revision, vms: result.changed });
    }
    if (result.removed.length && removedRevision !== null) this.feed.emit('vm:removed', { revision: removedRevision, ids: result.removed });
  }

  /**
   * Writes a state labdeck itself decided (a pending state while a power action runs, or its
   * outcome): next revision, a vm_event, announced. Passes leave the status alone for a while
   * (their snapshot may be older). Throws when the VM is unknown.
   */
  async setStatus(cluster: string, vmid: number, status: VmStatus,
    fields: { syncError?: string | null; node?: string; startedAt?: number | null } = {}): Promise<Vm> {
    const now = this.now();
    const result = await this.apply(cluster, (stored) => {
      const row = stored[0];
      if (!row || row.deleted) return { upserts: [], tombstones: [], events: [] };
      const next: InventoryRow = { ...row, status, last_updated: now, last_status_check: now };
      addressFollowsStatus(row, next);
      if (fields.syncError !== undefined) next.sync_error = fields.syncError;
      if (fields.node !== undefined) next.node = fields.node;
      if (fields.startedAt !== undefined) next.started_at = fields.startedAt;
      return { upserts: [next], tombstones: [], events: statusChange(cluster, row, { vmid, status }, now, 'labdeck') };
    }, [vmid], { unfenced: true });
    const vm = result.changed[0] ?? null;
    if (!vm) throw new Error(`VM ${vmKey(cluster, vmid)} is not in the inventory`);
    const stale = (await this.staleness())(cluster);
    return stale ? { ...vm, stale } : vm;
  }
}
