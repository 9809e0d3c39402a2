// What a token's permission map means for labdeck (pure), and the Proxmox endpoint labels of the metrics.
import { describe, expect, it } from 'vitest';
import { judgeConsole, judgePrivileges, judgeProvisioning, privilegesOn } from '../../server/cli/privileges.js';
import { pveEndpoint } from '../../server/ops/metrics.js';

describe('token privileges', () => {
  it('takes the most specific path that covers /vms, falling back to /', () => {
    const perms = { '/': { 'Sys.Audit': 1, 'VM.Audit': 1 }, '/vms': { 'VM.Audit': 1, 'VM.PowerMgmt': 1 }, '/vmsx': { 'VM.Allocate': 1 } };
    expect([...privilegesOn(perms, '/vms')].sort()).toEqual(['VM.Audit', 'VM.PowerMgmt']);
    expect([...privilegesOn(perms, '/vms/100')].sort()).toEqual(['VM.Audit', 'VM.PowerMgmt']);
    expect([...privilegesOn({ '/': { 'VM.Audit': 1, 'Sys.Audit': 0 } }, '/vms')]).toEqual(['VM.Audit']);
    expect(privilegesOn({}, '/vms').size).toBe(0);
  });

  it('says which features work and how to fix the rest', () => {
    const none = judgePrivileges({}, 'labdeck@pve!sync');
    expect(none.map((v) => [v.feature, v.ok])).toEqual([['read', false], ['actions', false], ['addresses', false]]);
    expect(none[0].missing).toEqual(['VM.Audit', 'Sys.Audit']);
    expect(none[0].fix).toBe("pveum acl modify / --tokens 'labdeck@pve!sync' --roles PVEAuditor");
    const all = judgePrivileges({ '/': { 'Sys.Audit': 1, 'VM.Audit': 1, 'VM.PowerMgmt': 1, 'VM.Monitor': 1 } }, 'a@pve!b');
    expect(all.every((v) => v.ok && v.fix === '')).toBe(true);
  });
});

describe('provisioning privileges', () => {
  const all = { 'VM.Clone': 1, 'VM.Allocate': 1, 'VM.Config.Options': 1, 'VM.Snapshot': 1, 'VM.Snapshot.Rollback': 1 };

  it('passes a token with the VM privileges on /vms and space on /storage when no class clones into a pool', () => {
    const v = judgeProvisioning({ '/vms': all, '/storage': { 'Datastore.AllocateSpace': 1 } }, 'a@pve!b', []);
    expect(v).toEqual({ ok: true, missing: [], fixes: [] });
  });

  it('names each missing privilege with its path and one pveum command per path', () => {
    const v = judgeProvisioning({ '/': { 'VM.Audit': 1, 'VM.Allocate': 1 }, '/pool/other': { 'Pool.Allocate': 1 } }, 'a@pve!b', ['lab', 'other', 'lab']);
    expect(v.ok).toBe(false);
    expect(v.missing).toEqual([
      { path: '/vms', privilege: 'VM.Clone' }, { path: '/vms', privilege: 'VM.Config.Options' }, { path: '/vms', privilege: 'VM.Snapshot' },
      { path: '/vms', privilege: 'VM.Snapshot.Rollback' }, { path: '/storage', privilege: 'Datastore.AllocateSpace' }, { path: '/pool/lab', privilege: 'Pool.Allocate' },
    ]);
    expect(v.fixes).toEqual([
      "pveum role add LabdeckProvision --privs 'VM.Clone,VM.Allocate,VM.Config.Options,VM.Snapshot,VM.Snapshot.Rollback' && pveum acl modify /vms --tokens 'a@pve!b' --roles LabdeckProvision (if the role exists already: pveum role modify LabdeckProvision --privs 'VM.Clone,VM.Allocate,VM.Config.Options,VM.Snapshot,VM.Snapshot.Rollback')",
      "pveum acl modify /storage --tokens 'a@pve!b' --roles PVEDatastoreUser",
      "pveum acl modify /pool/lab --tokens 'a@pve!b' --roles PVEPoolAdmin",
    ]);
  });

  it('a privilege given on / covers the pools too', () => {
    expect(judgeProvisioning({ '/': { ...all, 'Datastore.AllocateSpace': 1, 'Pool.Allocate': 1 } }, 'a@pve!b', ['lab']).ok).toBe(true);
  });

  it('consoles need VM.Console for the token, or for the console user', () => {
    expect(judgeConsole({ '/vms': { 'VM.Console': 1 } }, { tokenId: 'a@pve!b' }).ok).toBe(true);
    expect(judgeConsole({ '/': { 'VM.Audit': 1 } }, { tokenId: 'a@pve!b' }).fix).toBe("pveum acl modify /vms --tokens 'a@pve!b' --roles PVEVMUser");
    expect(judgeConsole({}, { username: 'c@pve' }).fix).toBe("pveum acl modify /vms --users 'c@pve' --roles PVEVMUser");
  });
});

describe('Proxmox endpoint labels', () => {
  it('keeps label values bounded: node names, vmids, UPIDs and user ids become placeholders', () => {
    expect(pveEndpoint('/api2/json/cluster/resources')).toBe('cluster/resources');
    expect(pveEndpoint('/api2/json/nodes/pve3/qemu/1234/status/current')).toBe('nodes/{node}/qemu/{vmid}/status/current');
    expect(pveEndpoint('/api2/json/nodes/pve1/lxc/101/interfaces')).toBe('nodes/{node}/lxc/{vmid}/interfaces');
    expect(pveEndpoint('/api2/json/nodes/pve1/tasks/UPID:pve1:0001:0002:0003:qmstart:100:root@pam:/status')).toBe('nodes/{node}/tasks/{upid}/status');
    expect(pveEndpoint('/api2/json/access/users/alice@pve')).toBe('access/users/{userid}');
  });
});
