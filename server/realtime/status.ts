// The sync status on sockets: `sync:status` to admins at most once per `syncStatusMs` (the latest
// wins), and `cluster:stale` when a cluster's data turns stale or fresh, to everyone who sees part
// of it; a socket that connects is told each cluster's staleness at once.
import type { SyncStatus } from '../../contract/sync.js';
import { ADMIN_ROOM } from '../../contract/rooms.js';
import type { LabSocket } from './attach.js';
import { planStaleness, stalenessFor, type Message } from './delivery.js';
import type { ViewerGroups } from './groups.js';

export interface StatusPushDeps {
  groups: ViewerGroups;
  deliver(messages: Message[]): void;
  /** The sync's status now (each cluster's staleness for sockets that connect). */
  current?(): SyncStatus;
  syncStatusMs: number;
}

export class StatusPush {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pending: SyncStatus | null = null;
  private stale = new Map<string, boolean>();
  private closed = false;

  constructor(private readonly d: StatusPushDeps) {}

  /** A status from the sync (ChangeFeed `sync:status`). */
  readonly onStatus = (s: SyncStatus): void => {
    this.pending = s;
    if (!this.timer) this.send();
    const plan = planStaleness(s.clusters, this.stale, this.d.groups.all().values());
    this.stale = plan.known;
    this.d.deliver(plan.messages);
  };

  private send(): void {
    this.timer = null;
    if (!this.pending || this.closed) return;
    this.d.deliver([{ to: ADMIN_ROOM, event: 'sync:status', msg: this.pending }]);
    this.pending = null;
    this.timer = setTimeout(() => this.send(), this.d.syncStatusMs);
  }

  /** What a socket that just joined its group is told: a status still held back (admins), each cluster's staleness. */
  welcome(socket: LabSocket): Message[] {
    const out: Message[] = [];
    if (socket.data.user?.role === 'admin' && this.pending) out.push({ to: socket.id, event: 'sync:status', msg: this.pending });
    // A browser that reconnects after an outage cleared (or began) has no changed VM to tell it,
    // and its catch-up may come before the next status push.
    for (const msg of stalenessFor(this.d.groups.get(socket.data.group), this.d.current?.().clusters ?? [])) {
      out.push({ to: socket.id, event: 'cluster:stale', msg });
    }
    return out;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
