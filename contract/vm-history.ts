// A VM's status history as `GET /api/vm/:vmid/history` answers it (server/ops/vm-history.ts builds
// it, the dashboard's charts draw it). Types only: the browser bundle takes it as is.

export interface StatusChange { at: number; from: string | null; to: string }
export interface DayUptime { date: string; uptimeSeconds: number; upFraction: number }

export interface VmHistory {
  cluster: string;
  vmid: number;
  from: number;
  to: number;
  changes: StatusChange[];
  days: DayUptime[];
}
