// What a token's privileges (GET /access/permissions) mean for labdeck: which features work, and
// the pveum command that fixes what is missing. Pure.

export type PermissionMap = Record<string, Record<string, number | boolean>>;

export interface PrivilegeVerdict {
  feature: 'read' | 'actions' | 'addresses';
  ok: boolean;
  missing: string[];
  /** What to run on a Proxmox node to fix it (empty when ok). */
  fix: string;
}

/** Privileges effective on a path: the most specific listed path that is a prefix of it. */
export function privilegesOn(perms: PermissionMap, path: string): Set<string> {
  const candidates = Object.keys(perms)
    .filter((p) => p === '/' || path === p || path.startsWith(`${p.replace(/\/$/, '')}/`))
    .sort((a, b) => b.length - a.length);
  const best = candidates[0];
  if (best === undefined) return new Set();
  return new Set(Object.entries(perms[best]).filter(([, v]) => v === 1 || v === true).map(([k]) => k));
}

/** Judges reads (VM.Audit on /vms, Sys.Audit on /), power actions (VM.PowerMgmt) and guest addresses. */
export function judgePrivileges(perms: PermissionMap, tokenId: string): PrivilegeVerdict[] {
  const vms = privilegesOn(perms, '/vms');
  const root = privilegesOn(perms, '/');
  const quoted = `'${tokenId}'`;
  const readMissing = [
    ...(vms.has('VM.Audit') ? [] : ['VM.Audit']),
    ...(root.has('Sys.Audit') ? [] : ['Sys.Audit']),
  ];
  const actionsMissing = vms.has('VM.PowerMgmt') ? [] : ['VM.PowerMgmt'];
  const agentOk = vms.has('VM.GuestAgent.Audit') || vms.has('VM.Monitor');
  return [
    {
      feature: 'read', ok: readMissing.length === 0, missing: readMissing,
      fix: readMissing.length ? `pveum acl modify / --tokens ${quoted} --roles PVEAuditor` : '',
    },
    {
      feature: 'actions', ok: actionsMissing.length === 0, missing: actionsMissing,
      fix: actionsMissing.length ? `pveum acl modify /vms --tokens ${quoted} --roles PVEVMUser` : '',
    },
    {
      feature: 'addresses', ok: agentOk, missing: agentOk ? [] : ['VM.GuestAgent.Audit (PVE 9) or VM.Monitor (PVE 8)'],
      fix: agentOk ? '' : `pveum acl modify /vms --tokens ${quoted} --roles PVEVMUser`,
    },
  ];
}
