// What a token's privileges (GET /access/permissions) mean for labdeck: which features work, and
// the pveum command that fixes what is missing: reading, power actions, addresses, consoles, and
// provisioning (clone, tags, baseline, revert, remove; storage; the pools classes clone into). Pure.

export type PermissionMap = Record<string, Record<string, number | boolean>>;

export interface PrivilegeVerdict {
  feature: 'read' | 'actions' | 'addresses' | 'console';
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

/** Where provisioning needs what (qemu-server clone_vm, update_vm, snapshot, rollback, destroy). */
export const PROVISION_PRIVILEGES = {
  /** Clone the template, allocate and remove the new VM, set its tags (VM.Config.Options of VM.Config.*), baseline and revert. */
  vms: ['VM.Clone', 'VM.Allocate', 'VM.Config.Options', 'VM.Snapshot', 'VM.Snapshot.Rollback'],
  /** The clone's disks on the template's storage. */
  storage: ['Datastore.AllocateSpace'],
  /** Clones placed in a Proxmox pool (a class scope's pool rule): clone_vm checks the pool may be modified. */
  pool: ['Pool.Allocate'],
} as const;

/** The custom role `check-config` proposes for provisioning on /vms. */
export const PROVISION_ROLE = 'LabdeckProvision';

export interface ProvisionVerdict {
  ok: boolean;
  /** Missing privileges, each with the ACL path it is needed on. */
  missing: Array<{ path: string; privilege: string }>;
  /** One pveum command per path that lacks something. */
  fixes: string[];
}

/** Judges the privileges provisioning needs; `pools` are the Proxmox pools classes clone into on this cluster. */
export function judgeProvisioning(perms: PermissionMap, tokenId: string, pools: readonly string[]): ProvisionVerdict {
  const quoted = `'${tokenId}'`;
  const missing: ProvisionVerdict['missing'] = [];
  const fixes: string[] = [];
  const vms = privilegesOn(perms, '/vms');
  const vmMissing = PROVISION_PRIVILEGES.vms.filter((p) => !vms.has(p));
  for (const privilege of vmMissing) missing.push({ path: '/vms', privilege });
  if (vmMissing.length) {
    fixes.push(`pveum role add ${PROVISION_ROLE} --privs '${PROVISION_PRIVILEGES.vms.join(',')}' && pveum acl modify /vms --tokens ${quoted} --roles ${PROVISION_ROLE}`
      + ` (if the role exists already: pveum role modify ${PROVISION_ROLE} --privs '${PROVISION_PRIVILEGES.vms.join(',')}')`);
  }
  const storage = privilegesOn(perms, '/storage');
  for (const privilege of PROVISION_PRIVILEGES.storage.filter((p) => !storage.has(p))) {
    missing.push({ path: '/storage', privilege });
    fixes.push(`pveum acl modify /storage --tokens ${quoted} --roles PVEDatastoreUser`);
  }
  for (const pool of [...new Set(pools)].sort()) {
    const path = `/pool/${pool}`;
    const has = privilegesOn(perms, path);
    const lack = PROVISION_PRIVILEGES.pool.filter((p) => !has.has(p));
    for (const privilege of lack) missing.push({ path, privilege });
    if (lack.length) fixes.push(`pveum acl modify ${path} --tokens ${quoted} --roles PVEPoolAdmin`);
  }
  return { ok: missing.length === 0, missing, fixes };
}

/** Whether consoles can open: VM.Console on /vms for whoever opens them (the token, or the console user). */
export function judgeConsole(perms: PermissionMap, who: { tokenId: string } | { username: string }): PrivilegeVerdict & { feature: 'console' } {
  const ok = privilegesOn(perms, '/vms').has('VM.Console');
  const grantee = 'tokenId' in who ? `--tokens '${who.tokenId}'` : `--users '${who.username}'`;
  return { feature: 'console', ok, missing: ok ? [] : ['VM.Console'], fix: ok ? '' : `pveum acl modify /vms ${grantee} --roles PVEVMUser` };
}
