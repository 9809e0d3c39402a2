// The client's one VM store: a snapshot, then pushed changes applied per VM by revision, so the
// order in which a catch-up response and live events arrive does not matter and nothing is lost.
import type { Vm } from '../../../contract/vm.js';
import type { VmChangedPush, VmRemovedPush } from '../../../contract/events.js';
import type { ClusterStaleness } from '../../../contract/vm-api.js';

/** What the store needs of a VM: a full `Vm`, or the projector's cut-down `ProjectorVm`. */
export type StoredVm = Pick<Vm, 'id' | 'cluster' | 'revision' | 'stale'>;

/** A `vm:changed` push as this store holds it (full VMs, or projector VMs on a projector socket). */
export type VmChangedMsg<T extends StoredVm = Vm> = Omit<VmChangedPush, 'vms'> & { vms: T[] };
/** `reason: 'access'` means the VM left this viewer's sight (not deleted): no tombstone is kept. */
export type VmRemovedMsg = VmRemovedPush;
/** `clusters`: each cluster's staleness now (a catch-up carries it; it has no revision of its own). */
export interface SinceResponse<T extends StoredVm = Vm> { revision: number; vms: T[]; removed?: string[]; clusters?: Array<Pick<ClusterStaleness, 'cluster' | 'stale'>> }

/** A change to one VM as a listener sees it (for announcements). */
export interface StoreChange<T extends StoredVm = Vm> { before: T | undefined; after: T | undefined }

type Listener<T extends StoredVm> = (changes: StoreChange<T>[]) => void;

/** The VM map plus the highest revision seen; notifies listeners with what changed. */
export class VmStore<T extends StoredVm = Vm> {
  readonly vms = new Map<string, T>();
  /** Revision at which an id was deleted, so an older copy arriving late cannot resurrect it. */
  private readonly tombstones = new Map<string, number>();
  revision = 0;
  loaded = false;
  /** Bumped on every change: cheap memo key for derived lists. */
  version = 0;
  lastUpdateAt: number | null = null;
  private readonly listeners = new Set<Listener<T>>();

  /** Registers a listener; returns the unsubscribe function. */
  subscribe(fn: Listener<T>): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Replaces the contents with a full snapshot (keeping anything newer that arrived meanwhile). */
  applySnapshot(revision: number, vms: T[], now = Date.now()): void {
    const changes: StoreChange<T>[] = [];
    const next = new Map<string, T>();
    for (const vm of vms) {
      const dead = this.tombstones.get(vm.id);
      if (dead !== undefined && dead >= vm.revision) continue;
      const cur = this.vms.get(vm.id);
      next.set(vm.id, cur && cur.revision > vm.revision ? cur : vm);
    }
    for (const [id, cur] of this.vms) {
      if (!next.has(id) && cur.revision > revision) next.set(id, cur);
    }
    for (const [id, cur] of this.vms) if (!next.has(id)) changes.push({ before: cur, after: undefined });
    for (const [id, vm] of next) {
      const cur = this.vms.get(id);
      if (cur !== vm) changes.push({ before: cur, after: vm });
    }
    this.vms.clear();
    for (const [id, vm] of next) this.vms.set(id, vm);
    this.revision = Math.max(this.revision, revision);
    this.loaded = true;
    this.finish(changes, now);
  }

  /** Applies pushed or caught-up changes: a VM replaces the stored one unless that is newer. */
  applyChanged(msg: VmChangedMsg<T>, now = Date.now()): void {
    const changes: StoreChange<T>[] = [];
    for (const vm of msg.vms) {
      const dead = this.tombstones.get(vm.id);
      if (dead !== undefined && dead >= vm.revision) continue;
      if (dead !== undefined) this.tombstones.delete(vm.id);
      const cur = this.vms.get(vm.id);
      if (cur && cur.revision > vm.revision) continue;
      if (cur && cur.revision === vm.revision && cur.stale === vm.stale) continue;
      this.vms.set(vm.id, vm);
      changes.push({ before: cur, after: vm });
    }
    this.revision = Math.max(this.revision, msg.revision);
    this.finish(changes, now);
  }

  /** Applies removals (deleted guests, or VMs that left this viewer's sight). */
  applyRemoved(msg: VmRemovedMsg, now = Date.now()): void {
    const changes: StoreChange<T>[] = [];
    for (const id of msg.ids) {
      if (msg.reason !== 'access') this.tombstones.set(id, msg.revision);
      const cur = this.vms.get(id);
      if (!cur) continue;
      if (msg.reason !== 'access' && cur.revision > msg.revision) continue;
      this.vms.delete(id);
      changes.push({ before: cur, after: undefined });
    }
    this.revision = Math.max(this.revision, msg.revision);
    this.finish(changes, now);
  }

  /** Applies a `GET /api/vms?since=` answer. */
  applySince(res: SinceResponse<T>, now = Date.now()): void {
    this.applyChanged({ revision: res.revision, vms: res.vms }, now);
    if (res.removed?.length) this.applyRemoved({ revision: res.revision, ids: res.removed }, now);
    for (const c of res.clusters ?? []) this.markClusterStale(c.cluster, c.stale, now);
    this.lastUpdateAt = now;
  }

  /** Marks every VM of a cluster stale or fresh (its cluster stopped or resumed answering). */
  markClusterStale(cluster: string, stale: boolean, now = Date.now()): void {
    const changes: StoreChange<T>[] = [];
    for (const [id, vm] of this.vms) {
      if (vm.cluster !== cluster || vm.stale === stale) continue;
      const next = { ...vm, stale };
      this.vms.set(id, next);
      changes.push({ before: vm, after: next });
    }
    if (changes.length) this.finish(changes, now);
  }

  /** Empties the store (sign-out). */
  clear(): void {
    const changes = [...this.vms.values()].map((before) => ({ before, after: undefined }));
    this.vms.clear();
    this.tombstones.clear();
    this.revision = 0;
    this.loaded = false;
    this.lastUpdateAt = null;
    this.finish(changes, Date.now());
  }

  /** All VMs as an array (a fresh one per call). */
  list(): T[] {
    return [...this.vms.values()];
  }

  private finish(changes: StoreChange<T>[], now: number): void {
    this.lastUpdateAt = now;
    this.version++;
    for (const fn of this.listeners) fn(changes);
  }
}
