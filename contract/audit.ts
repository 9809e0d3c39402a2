// The audit trail on the wire: one entry as `GET /api/audit` answers it (the route `satisfies` the
// answer type; the class page's trail reads it as it is). Types only.

export type AuditOutcome = 'ok' | 'failed' | 'pending' | 'denied';

export interface AuditEntry {
  id: number;
  at: number;
  userId: number | null;
  username: string | null;
  action: string;
  target: string;
  cluster: string | null;
  vmid: number | null;
  classId: number | null;
  outcome: AuditOutcome;
  detail: string | null;
  /** How many targets the entry stands for (1 unless a bulk request was refused as a whole). */
  count: number;
}

/** `GET /api/audit`: newest first. */
export interface AuditListResponse { entries: AuditEntry[] }
