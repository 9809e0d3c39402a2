// ChangeFeed events collected into one batch per window (≤100 ms): a VM changed several times is
// sent once, as last seen; a VM removed after a change is only removed (and the other way round).
import type { VmChanged, VmRemoved } from '../inventory/changes.js';
import type { Vm } from '../../contract/vm.js';

export interface Taken { changed: Vm[]; removed: string[]; revision: number }

export class Batcher {
  private changed = new Map<string, Vm>();
  private removed = new Map<string, number>();
  private revision = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  /** `due` runs once per window after the first event of a batch. */
  constructor(private readonly windowMs: number, private readonly due: () => void) {}

  readonly onChanged = (e: VmChanged): void => {
    for (const vm of e.vms) {
      this.changed.set(vm.id, vm);
      this.removed.delete(vm.id);
    }
    this.revision = Math.max(this.revision, e.revision);
    this.schedule();
  };

  readonly onRemoved = (e: VmRemoved): void => {
    for (const id of e.ids) {
      this.changed.delete(id);
      this.removed.set(id, e.revision);
    }
    this.revision = Math.max(this.revision, e.revision);
    this.schedule();
  };

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(this.due, this.windowMs);
  }

  /** What is pending (null: nothing), emptied; `revision` is the highest seen so far. */
  take(): Taken | null {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.changed.size === 0 && this.removed.size === 0) return null;
    const out = { changed: [...this.changed.values()], removed: [...this.removed.keys()], revision: this.revision };
    this.changed = new Map();
    this.removed = new Map();
    return out;
  }

  /** No more windows (what is pending can still be taken). */
  close(): void {
    this.closed = true;
  }
}
