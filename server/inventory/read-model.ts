// The in-memory read model of the live inventory: loaded once from the database, then kept current
// from the ChangeFeed, so `GET /api/vms` answers without a query. Each VM is held once, as the
// object the API answers with; JSON is made per answer (a student's few VMs cost microseconds), and
// the admin body of every VM is built when asked for, kept while it is read and dropped when idle.
import { stalenessOf } from './staleness.js';
import { searchNeedle, vmMatchesText } from '../../contract/vm-search.js';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { ChangeFeed, VmChanged, VmRemoved } from './changes.js';
import { dialectOfDb, type Db } from '../db/index.js';
import { toVm } from './row.js';
import type { Vm } from '../../contract/vm.js';
import type { VmFilter } from './repository.js';
import type { ClusterState } from './sync-state.js';

/** The same filters as InventoryRepo.list, answered from memory (keys are looked up with byKeys). */
export type ReadFilter = Omit<VmFilter, 'keys'>;

export interface ReadModelOptions {
  db: Db;
  feed: ChangeFeed;
  /** The cluster states (for staleness); the sync-state store's, as the repository reads them, so both paths agree. */
  clusterStates: () => Promise<ClusterState[]>;
  /** A cluster without a successful pass for this long reads as stale (default 90 s). */
  staleAfterMs?: number;
  /** The admin body is dropped after this long without a read (default 30 s). */
  bodyIdleMs?: number;
  now?: () => number;
}

const gzipAsync = promisify(gzip);

/** Default order of the API: vmid, then cluster (as sortVms orders by default). */
function byVmidThenCluster(a: Vm, b: Vm): number {
  return a.vmid - b.vmid || a.cluster.localeCompare(b.cluster);
}

/** Where a VM held in `list` (in the default order) is: binary search by vmid, then cluster (pure). */
function indexIn(list: readonly Vm[], vm: Vm): number {
  let lo = 0, hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = byVmidThenCluster(list[mid], vm);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  throw new Error(`read model: ${vm.id} is not in the ordered list`);
}

/** The `[...]` JSON array of these VMs, each with its cluster's staleness (pure). */
export function vmsJson(list: readonly Vm[], stale: (cluster: string) => boolean): string {
  // Held VMs say `stale: false`; only a stale cluster's VMs need a copy that says otherwise.
  let any = false;
  for (let i = 0; i < list.length && !any; i++) any = stale(list[i].cluster);
  return JSON.stringify(any ? list.map((vm) => (stale(vm.cluster) ? { ...vm, stale: true } : vm)) : list);
}

/** Does a VM pass the filter, as the SQL of InventoryRepo.list decides it (pure). */
export function matchesFilter(vm: Vm, f: ReadFilter, likeIgnoresCase: boolean): boolean {
  if (f.cluster && vm.cluster !== f.cluster) return false;
  if (f.node && vm.node !== f.node) return false;
  if (f.status && vm.status !== f.status) return false;
  if (f.type && vm.type !== f.type) return false;
  if (f.category && vm.category !== f.category) return false;
  if (f.tag) {
    // SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
    const tag = likeIgnoresCase ? f.tag.toLowerCase() : f.tag;
    if (!vm.tags.some((t) => (likeIgnoresCase ? t.toLowerCase() : t) === tag)) return false;
  }
  return vmMatchesText(vm, searchNeedle(f.q));
}

/** The admin body as bytes, with the revision and staleness it was made for. */
interface HeldBody {
  key: string;
  body: Uint8Array<ArrayBuffer>;
  gzip?: Promise<Uint8Array<ArrayBuffer>>;
  lastRead: number;
}

/** The live VMs in memory, following the ChangeFeed in revision order. */
export class ReadModel {
  private readonly entries = new Map<string, Vm>();
  /** The VMs in the default order; null after a VM appeared, changed or left (sorted on demand). */
  private ordered: Vm[] | null = null;
  /** Clusters that hold live VMs, with `ordered`. */
  private clusters: string[] = [];
  private rev = 0;
  private started = false;
  /** Events that arrive while the snapshot loads, applied after it when newer. */
  private buffer: Array<['changed', VmChanged] | ['removed', VmRemoved]> | null = null;
  private held: HeldBody | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly likeIgnoresCase: boolean;
  private readonly staleAfterMs: number;
  private readonly bodyIdleMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: ReadModelOptions) {
    this.likeIgnoresCase = dialectOfDb(opts.db) === 'sqlite';
    this.staleAfterMs = opts.staleAfterMs ?? 90_000;
    this.bodyIdleMs = opts.bodyIdleMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  private readonly onChanged = (e: VmChanged) => {
    if (this.buffer) this.buffer.push(['changed', e]);
    else this.applyChanged(e);
  };

  private readonly onRemoved = (e: VmRemoved) => {
    if (this.buffer) this.buffer.push(['removed', e]);
    else this.applyRemoved(e);
  };

  /** Listens to the feed, then loads the live rows and the revision they are consistent with. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.buffer = [];
    this.opts.feed.on('vm:changed', this.onChanged);
    this.opts.feed.on('vm:removed', this.onRemoved);
    try {
      const pg = dialectOfDb(this.opts.db) === 'postgres';
      let trx = this.opts.db.transaction();
      // Both reads must see one moment: the counter and exactly the rows committed up to it.
      if (pg) trx = trx.setIsolationLevel('repeatable read');
      const { revision, rows } = await trx.execute(async (t) => {
        const r = await t.selectFrom('revision_counter').select('value').where('id', '=', 1).executeTakeFirst();
        const rows = await t.selectFrom('vm_inventory').selectAll().where('deleted', '=', 0).execute();
        return { revision: r?.value ?? 0, rows };
      });
      for (const row of rows) {
        const vm = toVm(row, false);
        this.entries.set(vm.id, vm);
      }
      this.rev = revision;
      // A write announced while loading is in the snapshot exactly when its revision is not above it.
      for (const [kind, e] of this.buffer) {
        if (e.revision <= revision) continue;
        if (kind === 'changed') this.applyChanged(e);
        else this.applyRemoved(e);
      }
    } catch (err) {
      this.stop();
      throw err;
    } finally {
      this.buffer = null;
    }
  }

  /** Stops following the feed and drops the admin body. */
  stop(): void {
    this.opts.feed.off('vm:changed', this.onChanged);
    this.opts.feed.off('vm:removed', this.onRemoved);
    this.dropBody();
  }

  /** The revision everything in the model is consistent with (never ahead of what it holds). */
  revision(): number {
    return this.rev;
  }

  /** Number of live VMs held. */
  size(): number {
    return this.entries.size;
  }

  /** Bytes of the admin body held right now (uncompressed), 0 when none is (metrics, tests). */
  heldBodyBytes(): number {
    return this.held ? this.held.body.byteLength : 0;
  }

  private applyChanged(e: VmChanged): void {
    for (const vm of e.vms) {
      const old = this.entries.get(vm.id);
      if (old && old.revision >= vm.revision) continue;
      const fresh = vm.stale ? { ...vm, stale: false } : vm;
      this.entries.set(vm.id, fresh);
      if (!old) this.ordered = null;
      // Changed in place: same vmid and cluster, so the same place in the order.
      else if (this.ordered) this.ordered[indexIn(this.ordered, old)] = fresh;
    }
    this.rev = Math.max(this.rev, e.revision);
    this.dropBody();
  }

  private applyRemoved(e: VmRemoved): void {
    for (const id of e.ids) {
      const old = this.entries.get(id);
      // A row written again after this removal is newer than it.
      if (old && old.revision <= e.revision && this.entries.delete(id)) this.ordered = null;
    }
    this.rev = Math.max(this.rev, e.revision);
    this.dropBody();
  }

  private dropBody(): void {
    this.held = null;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** Cluster id → is its data stale now (read per call, as the database path does). */
  async staleness(): Promise<(cluster: string) => boolean> {
    return stalenessOf(await this.opts.clusterStates(), this.staleAfterMs, this.now());
  }

  /** Every live VM in the default order (vmid, then cluster). Shared: read-only. */
  all(): readonly Vm[] {
    if (!this.ordered) {
      this.ordered = [...this.entries.values()].sort(byVmidThenCluster);
      this.clusters = [...new Set(this.ordered.map((vm) => vm.cluster))].sort();
    }
    return this.ordered;
  }

  /** The live VMs of these keys (unknown ones left out), unordered. */
  byKeys(keys: Iterable<string>): Vm[] {
    const out: Vm[] = [];
    for (const k of keys) {
      const vm = this.entries.get(k);
      if (vm) out.push(vm);
    }
    return out;
  }

  /** The live VMs that pass the filter, from `from` (default all, in the default order). */
  filter(f: ReadFilter, from: readonly Vm[] = this.all()): Vm[] {
    return from.filter((vm) => matchesFilter(vm, f, this.likeIgnoresCase));
  }

  /** The `[...]` JSON array of these VMs, each with its cluster's staleness. */
  jsonArray(list: readonly Vm[], stale: (cluster: string) => boolean): string {
    return vmsJson(list, stale);
  }

  /**
   * The body `{"revision","vms"}` of every live VM in the default order, as bytes. Built on the
   * first read after a change or a flip of a cluster's staleness, then kept while admins read it
   * and dropped after `bodyIdleMs` without a read (an admin page loads once, then follows pushes).
   */
  async allBody(): Promise<{ revision: number; body: Uint8Array<ArrayBuffer>; gzip: () => Promise<Uint8Array<ArrayBuffer>> }> {
    const stale = await this.staleness();
    const list = this.all();
    const revision = this.rev;
    const key = `${revision}|${this.clusters.filter(stale).join(',')}`;
    if (this.held?.key !== key) {
      const buf = Buffer.from(`{"revision":${revision},"vms":${vmsJson(list, stale)}}`);
      this.dropBody();
      this.held = { key, body: new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength), lastRead: 0 };
    }
    const held = this.held!;
    held.lastRead = this.now();
    this.idleTimer ??= this.armIdle(this.bodyIdleMs);
    // Compressed once per body, off the main thread (level 1: ~20 ms and 1/17 of the size at 20,000).
    const gz = () => (held.gzip ??= gzipAsync(held.body, { level: 1 }).then((b) => new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength)));
    return { revision, body: held.body, gzip: gz };
  }

  private armIdle(ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.idleTimer = null;
      if (!this.held) return;
      const idle = this.now() - this.held.lastRead;
      if (idle >= this.bodyIdleMs) this.held = null;
      else this.idleTimer = this.armIdle(this.bodyIdleMs - idle);
    }, ms);
    timer.unref();
    return timer;
  }
}
