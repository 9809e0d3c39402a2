// Proxmox answers as they really come: strings for numbers, 0/1, stubs, odd tags, both guest types.
import { describe, expect, it } from 'vitest';
import {
  cleanName,
  agentEnabled, categoryOf, ipFromAgent, ipFromLxc, macFromConfig, normaliseConfig, normaliseResources,
  normaliseStatusCurrent, parseTags, parseUpid,
} from '../../server/pve/normalise.js';

describe('cluster/resources normalising', () => {
  it('reads qemu and lxc entries with numbers as strings and 0/1 booleans', () => {
    const { rows } = normaliseResources([
      { id: 'qemu/100', type: 'qemu', vmid: '100', node: 'pve1', name: 'ws-1', status: 'running', template: '0', uptime: '120', cpu: '0.25', maxcpu: 2, mem: 512, maxmem: '1024', maxdisk: 0, tags: 'b;a', pool: 'class-1' },
      { id: 'lxc/101', type: 'lxc', vmid: 101, node: 'pve2', name: 'ct-1', status: 'stopped', template: 1, uptime: 0, maxcpu: 1, maxmem: 512, maxdisk: 8e9 },
    ]);
    expect(rows[0]).toMatchObject({ vmid: 100, type: 'qemu', status: 'running', template: false, uptime: 120, cpu: 0.25, maxmem: 1024, tags: ['a', 'b'], pool: 'class-1', lock: null });
    expect(rows[1]).toMatchObject({ vmid: 101, type: 'lxc', status: 'stopped', template: true, tags: [], pool: null });
  });

  it('keeps unknown stubs without a name and derives vmid/type from id', () => {
    const { rows } = normaliseResources([{ id: 'qemu/150', node: 'pve1', status: 'unknown' }]);
    expect(rows).toEqual([expect.objectContaining({ vmid: 150, type: 'qemu', name: null, status: 'unknown' })]);
  });

  it('skips unreadable entries and rejects a non-list', () => {
    const { rows, skipped } = normaliseResources([{ type: 'qemu', vmid: 'abc', node: 'pve1' }, { type: 'storage', id: 'storage/pve1/local', node: 'pve1' }]);
    expect(rows).toEqual([]);
    expect(skipped).toBe(1);
    expect(() => normaliseResources(null)).toThrow();
  });

  it('names why a guest entry is unreadable and keeps its vmid when it has one; odd optional fields are just unknown', () => {
    const list = normaliseResources([
      { id: 'qemu/120', type: 'qemu', vmid: 120, status: 'running' },
      { id: 'lxc/x', type: 'lxc', node: 'pve1' },
      { id: 'qemu/121', type: 'qemu', vmid: 121, node: 'pve1', name: 'ws', status: 'running', cpu: 'n/a', mem: {}, tags: ['odd'], template: 'yes' },
    ]);
    expect(list.skipped).toBe(2);
    expect(list.skippedVmids).toEqual([120]);
    expect(list.firstSkipReason).toBe('qemu 120: no node');
    expect(list.rows).toEqual([expect.objectContaining({ vmid: 121, cpu: null, mem: null, tags: [], template: false, status: 'running' })]);
  });

  it('maps QMP states', () => {
    expect(normaliseStatusCurrent({ status: 'running', qmpstatus: 'paused', uptime: 5 }).status).toBe('paused');
    expect(normaliseStatusCurrent({ status: 'stopped', agent: 1 })).toMatchObject({ status: 'stopped', agent: true, uptime: null });
  });

  it('splits tags on ; , and spaces, unique and sorted', () => {
    expect(parseTags('linux;class-1,class-1 x')).toEqual(['class-1', 'linux', 'x']);
    expect(parseTags(undefined)).toEqual([]);
  });
});

describe('guest details', () => {
  it('reads MAC, ostype, agent and memory from a qemu config', () => {
    const c = normaliseConfig({ name: 'w', cores: 2, sockets: 2, memory: '4096', ostype: 'win11', agent: 'enabled=1,fstrim_cloned_disks=1', net0: 'virtio=bc:24:11:2a:3b:4c,bridge=vmbr0' });
    expect(c).toEqual({ mac: 'BC:24:11:2A:3B:4C', ostype: 'win11', agent: true, cores: 4, memory: 4096 * 1024 * 1024, name: 'w' });
    expect(macFromConfig({ net1: 'name=eth1,hwaddr=BC:24:11:00:00:02', net0: 'name=eth0,hwaddr=BC:24:11:00:00:01,ip=dhcp' })).toBe('BC:24:11:00:00:01');
    expect(agentEnabled('0')).toBe(false);
    expect(agentEnabled('1')).toBe(true);
    expect(agentEnabled(undefined)).toBe(false);
  });

  it('categorises by type and ostype', () => {
    expect(categoryOf('qemu', 'win10')).toBe('windows');
    expect(categoryOf('qemu', 'l26')).toBe('linux');
    expect(categoryOf('lxc', 'debian')).toBe('lxc');
    expect(categoryOf('qemu', 'other')).toBe('unknown');
  });

  it('takes the first usable IPv4 from the agent, skipping lo', () => {
    expect(ipFromAgent({ result: [
      { name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }] },
      { name: 'eth0', 'ip-addresses': [{ 'ip-address-type': 'ipv6', 'ip-address': 'fe80::1' }, { 'ip-address-type': 'ipv4', 'ip-address': '127.20.0.5' }] },
    ] })).toBe('127.20.0.5');
    expect(ipFromAgent({ result: [] })).toBeNull();
  });

  it('reads LXC interfaces in the old and the new shape', () => {
    expect(ipFromLxc([{ name: 'lo', inet: '127.0.0.1/8' }, { name: 'eth0', inet: '10.0.0.6/24' }])).toBe('10.0.0.6');
    expect(ipFromLxc([{ name: 'eth0', 'ip-addresses': [{ 'ip-address-type': 'inet', 'ip-address': '127.21.0.9', prefix: 24 }] }])).toBe('127.21.0.9');
  });

  it('accepts only real task ids', () => {
    const upid = 'UPID:pve1:0000ABCD:0001E240:65A1B2C3:qmstart:100:root@pam!labdeck:';
    expect(parseUpid(upid)).toBe(upid);
    expect(() => parseUpid('nope')).toThrow();
  });
});

describe('guest names', () => {
  it('keeps no control characters, separators or direction overrides, and no more than 128 characters', () => {
    expect(cleanName('lab-a-ws-001')).toBe('lab-a-ws-001');
    expect(cleanName('a\r\nalternate shell:s:cmd\tb\u0000c')).toBe('a alternate shell:s:cmd b c');
    expect(cleanName('x\u2028y\u202eexe.txt')).toBe('x y exe.txt');
    expect(cleanName('\r\n\u0007 ')).toBeNull();
    expect(cleanName(null)).toBeNull();
    expect(cleanName('é'.repeat(300))).toBe('é'.repeat(128));
    expect(cleanName('x'.repeat(200))).toBe('x'.repeat(128));
    expect(cleanName('  two  spaces ')).toBe('two spaces');
    expect(cleanName('ws 01 a')).toBe('ws 01 a');
  });

  it('applies to every place a name comes from: the resources list, status/current and the config', () => {
    const row = normaliseResources([{ id: 'qemu/100', type: 'qemu', vmid: 100, node: 'pve1', name: 'bad\r\nname', status: 'running' }]);
    expect(row.rows[0].name).toBe('bad name');
    expect(normaliseStatusCurrent({ status: 'running', name: 'bad\nname' }).name).toBe('bad name');
    expect(normaliseConfig({ name: 'bad\rname' }).name).toBe('bad name');
  });
});
