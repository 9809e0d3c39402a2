// A VM's status history for the dashboard's charts: its status changes and the time it was up on
// each (UTC) day, computed from vm_events. The arithmetic is pure; the query sits in one function.
import type { Db } from '../db/index.js';
import { countsAsUptime } from '../../contract/vm.js';
import type { DayUptime, StatusChange, VmHistory } from '../../contract/vm-history.js';

export type { DayUptime, StatusChange, VmHistory };

const DAY_MS = 86_400_000;

/** The vm_events kind that records a status transition. */
export const STATUS_EVENT = 'status';

/** Seconds up per UTC day in [from, to], given the status at `from` and the changes after it (sorted). */
export function uptimeByDay(initial: string, changes: StatusChange[], from: number, to: number): DayUptime[] {
  const days: DayUptime[] = [];
  const firstDay = Math.floor(from / DAY_MS) * DAY_MS;
  for (let d = firstDay; d < to; d += DAY_MS) {
    days.push({ date: new Date(d).toISOString().slice(0, 10), uptimeSeconds: 0, upFraction: 0 });
  }
  let status = initial;
  let t = from;
  const addUp = (a: number, b: number) => {
    for (let s = a; s < b;) {
      const dayStart = Math.floor(s / DAY_MS) * DAY_MS;
      const e = Math.min(b, dayStart + DAY_MS);
      const day = days[(dayStart - firstDay) / DAY_MS];
      if (day) day.uptimeSeconds += (e - s) / 1000;
      s = e;
    }
  };
  for (const c of changes) {
    if (c.at <= from) { status = c.to; continue; }
    if (c.at > to) break;
    if (countsAsUptime(status)) addUp(t, c.at);
    status = c.to;
    t = c.at;
  }
  if (countsAsUptime(status)) addUp(t, to);
  for (const day of days) {
    const dayStart = Date.parse(`${day.date}T00:00:00Z`);
    const span = (Math.min(dayStart + DAY_MS, to) - Math.max(dayStart, from)) / 1000;
    day.uptimeSeconds = Math.round(day.uptimeSeconds);
    day.upFraction = span > 0 ? Math.min(1, Math.round((day.uptimeSeconds / span) * 1000) / 1000) : 0;
  }
  return days;
}

/** Loads a VM's status changes in [from, to] and derives uptime per day. */
export async function loadVmHistory(db: Db, cluster: string, vmid: number, currentStatus: string, from: number, to: number): Promise<VmHistory> {
  const rows = await db.selectFrom('vm_events')
    .select(['at', 'from_value', 'to_value'])
    .where('cluster_id', '=', cluster).where('vmid', '=', vmid).where('kind', '=', STATUS_EVENT)
    .where('at', '>', from).where('at', '<=', to)
    .orderBy('at', 'asc').orderBy('id', 'asc')
    .execute();
  const changes: StatusChange[] = rows
    .filter((r) => r.to_value !== null)
    .map((r) => ({ at: Number(r.at), from: r.from_value, to: r.to_value as string }));
  const before = await db.selectFrom('vm_events')
    .select(['to_value'])
    .where('cluster_id', '=', cluster).where('vmid', '=', vmid).where('kind', '=', STATUS_EVENT)
    .where('at', '<=', from)
    .orderBy('at', 'desc').orderBy('id', 'desc').limit(1)
    .executeTakeFirst();
  // Without an earlier event, the status at the start is where the first change came from (or now's).
  const initial = before?.to_value ?? changes[0]?.from ?? currentStatus;
  return { cluster, vmid, from, to, changes, days: uptimeByDay(initial, changes, from, to) };
}
