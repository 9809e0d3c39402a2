// The users a session check needs (id, name, role, disabled, session version), held in memory so
// a signed-in request asks no database. Kept exact: an in-process change announces itself on the
// access feed and the entry is dropped at once; a change made by another process (the admin CLI
// writes the database directly) shows in the users table's change signature, polled every second,
// and then every cached user is compared with the database and those whose sessions ended are
// announced (so their sockets close too).
import type { AccessFeed } from './access-feed.js';
import type { SessionRecord, UsersRepo } from './users.js';

export interface SessionUsersOptions {
  users: UsersRepo;
  feed: AccessFeed;
  /** How often the users table is checked for changes from another process (default 1000 ms). */
  pollMs?: number;
}

/** Did a user's sessions end between two reads of their record (pure). */
export function sessionsEnded(before: SessionRecord, after: SessionRecord | undefined): boolean {
  return !after || after.sessionVersion !== before.sessionVersion || (after.disabled && !before.disabled);
}

export class SessionUsers {
  private readonly byId = new Map<number, SessionRecord>();
  /** Bumped by every invalidation: a read that started before one must not be cached. */
  private epoch = 0;
  private signature: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private readonly users: UsersRepo;
  private readonly feed: AccessFeed;
  private readonly pollMs: number;

  constructor(opts: SessionUsersOptions) {
    this.users = opts.users;
    this.feed = opts.feed;
    this.pollMs = opts.pollMs ?? 1000;
    this.feed.on('session:revoked', this.onRevoked);
    this.feed.on('access:changed', this.onAccessChanged);
  }

  private readonly onRevoked = ({ userId }: { userId: number }) => this.forget(userId);
  private readonly onAccessChanged = ({ userIds }: { userIds: number[] }) => {
    for (const id of userIds) this.forget(id);
  };

  /** Drops one user's entry (the next read asks the database). */
  forget(id: number): void {
    this.byId.delete(id);
    this.epoch++;
  }

  /** The user's session record, from memory when known. */
  async get(id: number): Promise<SessionRecord | null> {
    const hit = this.byId.get(id);
    if (hit) return hit;
    const epoch = this.epoch;
    const rec = await this.users.sessionRecord(id);
    // A change announced while this read ran may be newer than what it read.
    if (rec && epoch === this.epoch) this.byId.set(id, rec);
    return rec;
  }

  /** Starts watching the users table for changes made by other processes. */
  async start(): Promise<void> {
    this.signature = await this.users.changeSignature();
    this.timer = setInterval(() => void this.check(), this.pollMs);
    this.timer.unref();
  }

  /** Compares the users table's signature with the last one; on a change re-reads the cached users. */
  check(): Promise<void> {
    this.checking ??= this.compare().catch(() => undefined).finally(() => { this.checking = null; });
    return this.checking;
  }

  private async compare(): Promise<void> {
    const signature = await this.users.changeSignature();
    if (signature === this.signature) return;
    this.signature = signature;
    const epoch = this.epoch;
    const ids = [...this.byId.keys()];
    const fresh = new Map((await this.users.sessionRecords(ids)).map((r) => [r.id, r]));
    const ended: number[] = [];
    for (const id of ids) {
      const before = this.byId.get(id);
      if (before && sessionsEnded(before, fresh.get(id))) ended.push(id);
    }
    if (epoch === this.epoch) {
      for (const id of ids) {
        const rec = fresh.get(id);
        if (rec) this.byId.set(id, rec);
        else this.byId.delete(id);
      }
    } else {
      // Something was invalidated meanwhile: start over from the database, user by user.
      this.byId.clear();
      this.epoch++;
    }
    for (const userId of ended) this.feed.emit('session:revoked', { userId });
  }

  /** Stops polling and following the feed. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.feed.off('session:revoked', this.onRevoked);
    this.feed.off('access:changed', this.onAccessChanged);
  }
}
