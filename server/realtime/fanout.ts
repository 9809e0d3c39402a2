// Pure fan-out planning: which viewer group receives which changed VMs, so that a socket gets each
// VM at most once even when several of its rooms may see it. A viewer group is the set of rooms a
// socket is in; sockets with the same set (one user's tabs, or one class's projectors) share it.

/** The key of a room set (order-independent). */
export function groupKey(rooms: readonly string[]): string {
  return [...new Set(rooms)].sort().join(',');
}

/** Index: room → keys of non-admin groups in that room. Admin groups get everything another way. */
export function indexGroups(groups: Iterable<{ key: string; rooms: readonly string[]; admin: boolean }>): Map<string, Set<string>> {
  const byRoom = new Map<string, Set<string>>();
  for (const g of groups) {
    if (g.admin) continue;
    for (const r of g.rooms) {
      let s = byRoom.get(r);
      if (!s) byRoom.set(r, (s = new Set()));
      s.add(g.key);
    }
  }
  return byRoom;
}

/** For each non-admin group, the ids of the items whose rooms meet the group's rooms (each once). */
export function planDelivery(items: Iterable<{ id: string; rooms: readonly string[] }>, groupsByRoom: ReadonlyMap<string, ReadonlySet<string>>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const item of items) {
    for (const room of item.rooms) {
      const groups = groupsByRoom.get(room);
      if (!groups) continue;
      for (const g of groups) {
        let ids = out.get(g);
        if (!ids) out.set(g, (ids = new Set()));
        ids.add(item.id);
      }
    }
  }
  return out;
}

/** What a viewer gains and loses when its visible set changes. */
export function diffVisible(before: ReadonlySet<string>, after: ReadonlySet<string>): { appeared: string[]; left: string[] } {
  const appeared: string[] = [];
  const left: string[] = [];
  for (const k of after) if (!before.has(k)) appeared.push(k);
  for (const k of before) if (!after.has(k)) left.push(k);
  return { appeared, left };
}

/** Rooms in `before` that are not in `after`. */
export function lostRooms(before: readonly string[], after: readonly string[]): string[] {
  const now = new Set(after);
  return before.filter((r) => !now.has(r));
}

/** Splits a list into chunks of at most `size` (large pushes go out in several frames). */
export function chunks<T>(list: T[], size: number): T[][] {
  if (list.length <= size) return [list];
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
