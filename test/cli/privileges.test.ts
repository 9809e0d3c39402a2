// What a token's permission map means for labdeck (pure), and the Proxmox endpoint labels of the metrics.
import { describe, expect, it } from 'vitest';
import { judgePrivileges, privilegesOn } from '../../server/cli/privileges.js';
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

describe('Proxmox endpoint labels', () => {
  it('keeps label values bounded: node names, vmids, UPIDs and user ids become placeholders', () => {
    expect(pveEndpoint('/api2/json/cluster/resources')).toBe('cluster/resources');
    expect(pveEndpoint('/api2/json/nodes/pve3/qemu/1234/status/current')).toBe('nodes/{node}/qemu/{vmid}/status/current');
    expect(pveEndpoint('/api2/json/nodes/pve1/lxc/101/interfaces')).toBe('nodes/{node}/lxc/{vmid}/interfaces');
    expect(pveEndpoint('/api2/json/nodes/pve1/tasks/UPID:pve1:0001:0002:0003:qmstart:100:root@pam:/status')).toBe('nodes/{node}/tasks/{upid}/status');
    expect(pveEndpoint('/api2/json/access/users/alice@pve')).toBe('access/users/{userid}');
  });
});
