// The guest lifecycle a class's provisioning meets, as strict as qemu-server and pve-container:
// linked clones only from templates, source locks timing out under parallel clones, `target`
// only with shared storage, new MACs, `lock: clone` until the task ends, config updates refused
// while locked, snapshots in order with ZFS's "not most recent snapshot", destroy while running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import { FAST, startFast, tokenClient, waitTask } from './helpers.js';

type Api = ReturnType<typeof tokenClient>;

describe('guest lifecycle', () => {
  let sim: Simulator;
  let lvm: Api, zfs: Api, ceph: Api;
  beforeAll(async () => {
    sim = await startFast({
      clusters: [
        { id: 'lvm', guests: 0, nodes: 2 },
        { id: 'zfs', guests: 0, nodes: 2, storage: 'local-zfs' },
        { id: 'ceph', guests: 0, nodes: 2, storage: 'ceph' },
      ],
      // Older qemu-server releases locked a stopped source exclusively: parallel clones time out.
      locks: { cloneSource: 'exclusive', cloneTimeoutMs: 50 },
      // Clones long enough that the checks made while one runs cannot race its end on a busy machine.
      taskDurationMs: { ...FAST.taskDurationMs, linkedClone: 600, clone: 700 },
    });
    [lvm, zfs, ceph] = sim.clusters.map((c) => tokenClient(c));
  });
  afterAll(() => sim?.close());

  const template = (id: string, type: 'qemu' | 'lxc' = 'qemu') => {
    const c = sim.cluster(id);
    return c.createGuest({ type, node: 'pve1', template: true, name: `${id}-tpl`, tags: ['linux'] });
  };

  it('makes linked clones only from templates, full clones from anything', async () => {
    const tpl = template('lvm');
    const vm = sim.cluster('lvm').createGuest({ node: 'pve1' });
    const node = lvm.nodes.$('pve1');
    await expect(node.qemu.$(vm).clone.$post({ newid: 900, full: false }))
      .rejects.toThrow(`500 Linked clone feature is not supported for 'local-lvm:vm-${vm}-disk-0' (scsi0)`);
    const upid = await node.qemu.$(tpl).clone.$post({ newid: 901, name: 'linked-1' });
    expect(upid).toContain(`:qmclone:${tpl}:`);
    expect(sim.cluster('lvm').guest(901)).toMatchObject({ lock: 'clone', template: false, name: 'linked-1', tags: ['linux'] });
    // Locked while cloning: no start; a config change waits for the clone worker's flock, then applies.
    await expect(node.qemu.$(901).status.start.$post()).rejects.toThrow('500 VM is locked (clone)');
    await node.qemu.$(901).config.$put({ tags: 'labdeck' });
    expect(await node.tasks.$(upid).status.$get()).toMatchObject({ status: 'stopped', exitstatus: 'OK' });
    expect(sim.cluster('lvm').guest(901)!.tags).toEqual(['labdeck']);
    const copy = sim.cluster('lvm').guest(901)!;
    expect(copy.lock).toBeNull();
    expect(copy.mac).toMatch(/^BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2}$/);
    expect(copy.mac).not.toBe(sim.cluster('lvm').guest(tpl)!.mac);
    expect(await waitTask(lvm, 'pve1', await node.qemu.$(vm).clone.$post({ newid: 902 }))).toMatchObject({ exitstatus: 'OK' });
  });

  it('times out parallel clones on the source lock, with the new VM never created', async () => {
    const tpl = template('lvm');
    const node = lvm.nodes.$('pve1');
    const first = await node.qemu.$(tpl).clone.$post({ newid: 910 });
    const second = await node.qemu.$(tpl).clone.$post({ newid: 911 });
    expect(await waitTask(lvm, 'pve1', second)).toMatchObject({ exitstatus: `can't lock file '/var/lock/qemu-server/lock-${tpl}.conf' - got timeout` });
    expect(sim.cluster('lvm').guest(911)).toBeUndefined();
    expect(await waitTask(lvm, 'pve1', first)).toMatchObject({ exitstatus: 'OK' });
    expect(sim.cluster('lvm').isFileLocked(tpl)).toBe(false);
    // Once the first is done the lock is free again.
    expect(await waitTask(lvm, 'pve1', await node.qemu.$(tpl).clone.$post({ newid: 911 }))).toMatchObject({ exitstatus: 'OK' });
  });

  it('clones to another node only from shared storage', async () => {
    const local = template('lvm');
    await expect(lvm.nodes.$('pve1').qemu.$(local).clone.$post({ newid: 920, target: 'pve2' }))
      .rejects.toThrow("500 can't clone VM to node 'pve2' (VM uses local storage)");
    await expect(lvm.nodes.$('pve1').qemu.$(local).clone.$post({ newid: 920, target: 'pve9' })).rejects.toThrow("500 no such cluster node 'pve9'");
    const shared = template('ceph');
    const upid = await ceph.nodes.$('pve1').qemu.$(shared).clone.$post({ newid: 920, target: 'pve2' });
    expect(sim.cluster('ceph').guest(920)!.node).toBe('pve1');
    await waitTask(ceph, 'pve1', upid);
    expect(sim.cluster('ceph').guest(920)!.node).toBe('pve2');
  });

  it('updates tags and the description in config, checking the digest', async () => {
    const vm = sim.cluster('lvm').createGuest({ node: 'pve2', tags: ['old'] });
    const cfg = lvm.nodes.$('pve2').qemu.$(vm).config;
    const { digest } = await cfg.$get() as { digest: string };
    expect(await cfg.$put({ tags: 'labdeck;class-7', description: 'Networks 1', digest })).toBeNull();
    expect(await cfg.$get()).toMatchObject({ tags: 'labdeck;class-7', description: 'Networks 1' });
    await expect(cfg.$put({ tags: 'x', digest })).rejects.toThrow('detected modified configuration');
    await expect(cfg.$put({ tags: 'bad tag!' })).rejects.toThrow('400 Parameter verification failed.');
    await expect(cfg.$put({ tags: 'x', skiplock: true })).rejects.toThrow('400 Parameter verification failed.');
    await expect(cfg.$put({ nosuchoption: 1 } as never)).rejects.toThrow('400 Parameter verification failed.');
    const upid = await lvm.nodes.$('pve2').qemu.$(vm).config.$post({ delete: 'tags' }) as string;
    expect(upid).toContain(':qmconfig:');
    await waitTask(lvm, 'pve2', upid);
    expect(sim.cluster('lvm').guest(vm)!.tags).toEqual([]);
  });

  it('rolls back on ZFS only to the most recent snapshot', async () => {
    const vm = sim.cluster('zfs').createGuest({ node: 'pve1', running: true });
    const g = zfs.nodes.$('pve1').qemu.$(vm);
    await waitTask(zfs, 'pve1', await g.snapshot.$post({ snapname: 'labdeck-baseline' }));
    await waitTask(zfs, 'pve1', await g.snapshot.$post({ snapname: 'student-work' }));
    expect((await g.snapshot.$get()).map((s) => s.name)).toEqual(['labdeck-baseline', 'student-work', 'current']);
    expect(await waitTask(zfs, 'pve1', await g.snapshot.$('labdeck-baseline').rollback.$post()))
      .toMatchObject({ exitstatus: `can't rollback, 'labdeck-baseline' is not most recent snapshot on 'local-zfs:vm-${vm}-disk-0'` });
    expect(sim.cluster('zfs').guest(vm)).toMatchObject({ status: 'running', lock: null });
    expect(await waitTask(zfs, 'pve1', await g.snapshot.$('student-work').rollback.$post({ start: true }))).toMatchObject({ exitstatus: 'OK' });
    expect(sim.cluster('zfs').guest(vm)!.status).toBe('running');
    // LVM-thin keeps a tree: any snapshot.
    const other = sim.cluster('lvm').createGuest({ node: 'pve1' });
    const h = lvm.nodes.$('pve1').qemu.$(other);
    await waitTask(lvm, 'pve1', await h.snapshot.$post({ snapname: 'first' }));
    await waitTask(lvm, 'pve1', await h.snapshot.$post({ snapname: 'second' }));
    expect(await waitTask(lvm, 'pve1', await h.snapshot.$('first').rollback.$post())).toMatchObject({ exitstatus: 'OK' });
  });

  it('refuses snapshots of templates and destroys only stopped guests; skiplock is root-only', async () => {
    const tpl = template('lvm');
    expect(await waitTask(lvm, 'pve1', await lvm.nodes.$('pve1').qemu.$(tpl).snapshot.$post({ snapname: 'tpl-snap' })))
      .toMatchObject({ exitstatus: "you can't take a snapshot if it's a template" });
    const vm = sim.cluster('lvm').createGuest({ node: 'pve1', running: true });
    await expect(lvm.nodes.$('pve1').qemu.$(vm).$delete({ purge: true })).rejects.toThrow(`500 VM ${vm} is running - destroy failed`);
    await expect(lvm.nodes.$('pve1').qemu.$(vm).$delete({ skiplock: true })).rejects.toThrow('400 Parameter verification failed.');
    sim.cluster('lvm').powerOutside(vm, 'stop');
    expect(await waitTask(lvm, 'pve1', await lvm.nodes.$('pve1').qemu.$(vm).$delete({ purge: true }))).toMatchObject({ type: 'qmdestroy', exitstatus: 'OK' });
    expect(sim.cluster('lvm').guest(vm)).toBeUndefined();
  });

  it('clones containers: hostname, the source locked (disk) for the clone, the copy (create)', async () => {
    const tpl = template('lvm', 'lxc');
    const node = lvm.nodes.$('pve1');
    const upid = await node.lxc.$(tpl).clone.$post({ newid: 930, hostname: 'ct-student-1' });
    expect(upid).toContain(`:vzclone:${tpl}:`);
    expect(sim.cluster('lvm').guest(930)).toMatchObject({ name: 'ct-student-1', lock: 'create', type: 'lxc' });
    await expect(node.lxc.$(tpl).clone.$post({ newid: 931 })).rejects.toThrow('500 CT is locked (disk)');
    await waitTask(lvm, 'pve1', upid);
    expect(sim.cluster('lvm').guest(930)!.lock).toBeNull();
    expect(sim.cluster('lvm').guest(tpl)!.lock).toBeNull();
    await node.lxc.$(930).config.$put({ tags: 'labdeck' });
    expect(sim.cluster('lvm').guest(930)!.tags).toEqual(['labdeck']);
  });
});
