// Every instance's view follows what the others commit: on each inventory notification, after the
// bus reconnects and on a timer, the rows with a revision above the last one seen are read and
// announced on this instance's ChangeFeed (the read model and the socket hub follow the feed), and
// handed to the repository so the passes and the fast lane see them too.
//
// Gaps: revisions come from one counter row that each writer locks (UPDATE ... RETURNING, after
// SELECT ... FOR UPDATE) until its commit, so they are handed out in commit order; reading the
// counter first and then `revision > seen` therefore sees every row up to the counter, and `seen`
// only advances to what was read. A notification lost while the connection was down is made up
// by the read on reconnect and by the timer.
import type { Db } from '../db/index.js';
import type { ChangeFeed, VmChanged, VmRemoved } from '../inventory/changes.js';
import type { InventoryRepo } from '../inventory/repository.js';
import { toVm } from '../inventory/row.js';
import { vmKey, type Vm } from '../../contract/vm.js';
import type { Logger } from '../log.js';

export interface FollowerOptions {
  db: Db;
  feed: ChangeFeed;
  repo: InventoryRepo;
  /** The revision the instance's view is consistent with when following starts. */
  from: number;
  logger: Logger;
}

export interface FollowerStats {
  reads: number;
  /** Rows others committed that were announced here. */
  announced: number;
  seen: number;
}

export class InventoryFollower {
  private seen: number;
  /** VM key → newest revision announced on this instance's feed (its own writes included). */
  private readonly known = new Map<string, number>();
  private reading: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  readonly stats: FollowerStats = { reads: 0, announced: 0, seen: 0 };

  constructor(private readonly o: FollowerOptions) {
    this.seen = o.from;
    this.stats.seen = o.from;
    o.feed.prependListener('vm:changed', this.onChanged);
    o.feed.prependListener('vm:removed', this.onRemoved);
  }

  private readonly onChanged = (e: VmChanged) => {
    for (const vm of e.vms) this.note(vm.id, vm.revision);
  };
  private readonly onRemoved = (e: VmRemoved) => {
    for (const id of e.ids) this.note(id, e.revision);
  };
  private note(id: string, revision: number): void {
    if ((this.known.get(id) ?? -1) < revision) this.known.set(id, revision);
  }

  /** Another instance committed up to `revision` (or: read anyway when undefined). */
  poke(revision?: number): Promise<void> {
    if (revision !== undefined && revision <= this.seen) return this.reading ?? Promise.resolve();
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = this.loop().finally(() => { this.reading = null; });
    return this.reading;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      if (this.stopped) return;
      try {
        await this.read();
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'Could not read what the other instances wrote; trying again');
        return;
      }
    } while (this.again);
  }

  private async read(): Promise<void> {
    const { db, repo, feed } = this.o;
    this.stats.reads++;
    const counter = await repo.currentRevision();
    const rows = await db.selectFrom('vm_inventory').selectAll().where('revision', '>', this.seen).orderBy('revision').execute();
    const fresh = rows.filter((r) => (this.known.get(vmKey(r.cluster_id, r.vmid)) ?? -1) < r.revision);
    let top = counter;
    for (const r of rows) top = Math.max(top, r.revision);
    if (fresh.length) {
      await repo.absorb(fresh);
      const vms: Vm[] = [];
      const removed: string[] = [];
      let changedRev = 0;
      let removedRev = 0;
      for (const r of fresh) {
        if (r.deleted) {
          removed.push(vmKey(r.cluster_id, r.vmid));
          removedRev = Math.max(removedRev, r.revision);
        } else {
          vms.push(toVm(r, false));
          changedRev = Math.max(changedRev, r.revision);
        }
      }
      this.stats.announced += fresh.length;
      if (vms.length) feed.emit('vm:changed', { revision: changedRev, vms });
      if (removed.length) feed.emit('vm:removed', { revision: removedRev, ids: removed });
    }
    this.seen = Math.max(this.seen, top);
    this.stats.seen = this.seen;
  }

  stop(): void {
    this.stopped = true;
    this.o.feed.off('vm:changed', this.onChanged);
    this.o.feed.off('vm:removed', this.onRemoved);
  }
}
