// Guest lifecycle as qemu-server and pve-container perform it: clone (linked only from templates,
// locks inside the worker, `target` only on shared storage, new MACs, `lock: clone`), destroy,
// snapshots in order, rollback (ZFS: only to the most recent snapshot) and config updates.
// What PVE checks before forking the worker fails the request (500); the rest fails the task.
import { randomBytes } from 'node:crypto';
import type { ClusterState } from './cluster.js';
import { label } from './cluster.js';
import { fail, paramError } from './errors.js';
import { type Guest, digestOf, isUp } from './guest.js';
import { lockPath } from './locks.js';
import { STORAGES, diskVolid } from './storage.js';

/** The parameters of POST .../clone that the simulation acts on. */
export interface CloneParams {
  newid: number;
  name?: string;
  target?: string;
  pool?: string;
  full?: boolean;
  snapname?: string;
  storage?: string;
  description?: string;
}

/** A fresh MAC under Proxmox's default prefix, as PVE::Tools::random_ether_addr makes one. */
export function randomMac(): string {
  const b = randomBytes(3);
  return `BC:24:11:${[...b].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(':')}`;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The copy a clone writes: config of the source without snapshots, with a new MAC and name. */
function copyOf(src: Guest, p: CloneParams, lock: string): Guest {
  return {
    ...src, vmid: p.newid, name: p.name ?? (src.type === 'qemu' ? `Copy-of-VM-${src.name}` : src.name), status: 'stopped', template: false,
    mac: randomMac(), tags: [...src.tags], pool: null, lock, bootedAt: null, busy: false, pid: null, snapshots: [], parent: null,
    createdAt: Date.now(), description: p.description ?? src.description,
  };
}

/** POST /nodes/{node}/{qemu|lxc}/{vmid}/clone; returns the UPID. */
export function cloneGuest(cs: ClusterState, src: Guest, p: CloneParams, user: string): string {
  return src.type === 'qemu' ? cloneQemu(cs, src, p, user) : cloneLxc(cs, src, p, user);
}

function commonCloneChecks(cs: ClusterState, src: Guest, p: CloneParams, target: string | undefined): void {
  if (p.pool !== undefined && !cs.pools.has(p.pool)) throw fail(`pool '${p.pool}' does not exist`);
  if (target && !cs.isNode(target)) throw fail(`no such cluster node '${target}'`);
  if (p.storage !== undefined && p.storage !== src.storage) throw fail(`storage '${p.storage}' does not exist`);
}

function cloneQemu(cs: ClusterState, src: Guest, p: CloneParams, user: string): string {
  const target = p.target && p.target !== src.node ? p.target : undefined;
  const running = isUp(src);
  const storage = STORAGES[src.storage];
  // qemu-server's load_and_check: run before forking and again inside the worker under the locks.
  const loadAndCheck = (): boolean => {
    commonCloneChecks(cs, src, p, target);
    if (cs.guests.get(src.vmid) !== src) throw fail(`Configuration file 'nodes/${src.node}/qemu-server/${src.vmid}.conf' does not exist`);
    if (src.lock) throw fail(`VM is locked (${src.lock})`);
    if (isUp(src) !== running) throw fail('unexpected state change');
    if (p.snapname && !src.snapshots.some((s) => s.name === p.snapname)) throw fail(`snapshot '${p.snapname}' does not exist`);
    const full = p.full ?? !src.template;
    if (p.storage !== undefined && !full) throw fail("parameter 'storage' not allowed for linked clones");
    const volid = diskVolid(src.storage, 'qemu', src.vmid, src.template);
    // A linked clone clones the template's base volume; a normal VM's disk has no base to share.
    if (!full && (!storage.linkedClones || !src.template)) {
      throw fail(`Linked clone feature is not supported for ${p.snapname ? 'a snapshot of ' : ''}'${volid}' (scsi0)`);
    }
    if (target && !storage.shared) throw fail(`can't clone VM to node '${target}' (VM uses local storage)`);
    if (cs.guests.has(p.newid)) throw fail(`unable to create VM ${p.newid}: config file already exists`);
    return full;
  };
  const full = loadAndCheck();
  let copy: Guest | null = null;
  const { cloneSource, cloneTimeoutMs } = cs.settings.locks;
  return cs.task(src, full ? 'clone' : 'linkedClone', user, () => {
    if (!copy || cs.guests.get(copy.vmid) !== copy) throw new Error(`clone failed: VM ${p.newid} vanished`);
    if (cs.guests.get(src.vmid) !== src) {
      // The worker's error path: the half-made copy's config is unlinked.
      cs.guests.delete(copy.vmid);
      cs.membersChanged();
      throw new Error(`clone failed: VM ${src.vmid} vanished while it was copied`);
    }
    copy.lock = null;
    if (target) copy.node = target;
    if (p.pool) copy.pool = p.pool;
    cs.touch(copy);
    cs.changed();
  }, async () => {
    // The worker locks the source (shared when stopped, unless configured otherwise) and the new id, 1 s each.
    const releaseSource = await cs.locks.lock(lockPath('qemu', src.vmid), !running && cloneSource === 'shared', cloneTimeoutMs);
    let releaseNew: () => void;
    try {
      releaseNew = await cs.locks.lock(lockPath('qemu', p.newid), false, cloneTimeoutMs);
    } catch (e) {
      releaseSource();
      throw e;
    }
    try {
      loadAndCheck();
    } catch (e) {
      releaseNew();
      releaseSource();
      throw new Error(message(e));
    }
    copy = copyOf(src, p, 'clone');
    cs.guests.set(copy.vmid, copy);
    cs.touch(copy);
    cs.membersChanged();
    return () => {
      releaseNew();
      releaseSource();
    };
  });
}

function cloneLxc(cs: ClusterState, src: Guest, p: CloneParams, user: string): string {
  const target = p.target && p.target !== src.node ? p.target : undefined;
  const storage = STORAGES[src.storage];
  commonCloneChecks(cs, src, p, target);
  // pve-container does the checks before forking: the source gets `lock: disk`, the new CT `lock: create`.
  if (src.lock) throw fail(`CT is locked (${src.lock})`);
  if (cs.guests.has(p.newid)) throw fail(`CT ${p.newid} already exists on node '${cs.guests.get(p.newid)!.node}'`);
  if (p.snapname && !src.snapshots.some((s) => s.name === p.snapname)) throw fail(`snapshot '${p.snapname}' does not exist`);
  const full = p.full ?? !src.template;
  if (p.storage !== undefined && !full) throw fail("parameter 'storage' not allowed for linked clones");
  const volid = diskVolid(src.storage, 'lxc', src.vmid, src.template);
  if (!full && (!storage.linkedClones || !src.template)) throw fail(`Linked clone feature for '${volid}' is not available`);
  if (full && isUp(src) && !p.snapname) throw fail('Full clone of a running container is only possible from a snapshot (--snapname)');
  if (target && !storage.shared) throw fail(`can't clone CT to node '${target}' (CT uses local storage)`);
  const copy = copyOf(src, p, 'create');
  src.lock = 'disk';
  cs.guests.set(copy.vmid, copy);
  cs.touch(copy);
  cs.membersChanged();
  return cs.task(src, full ? 'clone' : 'linkedClone', user, () => {
    if (src.lock === 'disk') src.lock = null;
    if (cs.guests.get(copy.vmid) !== copy) throw new Error(`clone failed: CT ${p.newid} vanished`);
    copy.lock = null;
    if (target) copy.node = target;
    if (p.pool) copy.pool = p.pool;
    cs.touch(copy);
    cs.changed();
  });
}

/** DELETE /nodes/{node}/{qemu|lxc}/{vmid}: refused while running; gone when the task ends. */
export function destroyGuest(cs: ClusterState, g: Guest, user: string, opts: { skiplock: boolean; purge: boolean }): string {
  // pve-access-control: only root@pam itself, not one of its API tokens, may skip locks.
  if (opts.skiplock && user !== 'root@pam') throw paramError({ skiplock: 'Only root may use this option.' });
  if (isUp(g)) throw fail(g.type === 'qemu' ? `VM ${g.vmid} is running - destroy failed` : `unable to destroy CT ${g.vmid} - container is running`);
  if (g.lock && !opts.skiplock) throw fail(`${label(g)} is locked (${g.lock})`);
  return cs.task(g, 'destroy', user, () => {
    if (cs.guests.get(g.vmid) === g) cs.guests.delete(g.vmid);
    cs.membersChanged();
  }, async () => {
    // destroy_vm works under lock_config: clones still reading a template make it wait (and time out).
    const release = await cs.locks.lock(lockPath(g.type, g.vmid), false, cs.settings.locks.configTimeoutMs);
    if (cs.guests.get(g.vmid) !== g) {
      release();
      throw new Error(`Configuration file 'nodes/${g.node}/${g.type === 'qemu' ? 'qemu-server' : 'lxc'}/${g.vmid}.conf' does not exist`);
    }
    g.lock = 'destroyed';
    cs.changed();
    return release;
  });
}

/** GET .../snapshot: the snapshots in the order taken, then the `current` pseudo entry. */
export function listSnapshots(g: Guest): Record<string, unknown>[] {
  const list: Record<string, unknown>[] = g.snapshots.map((s) => ({
    name: s.name, description: s.description, snaptime: s.snaptime, ...(g.type === 'qemu' ? { vmstate: 0 } : {}), ...(s.parent ? { parent: s.parent } : {}),
  }));
  list.push({ name: 'current', description: 'You are here!', running: isUp(g) ? 1 : 0, digest: digestOf(g), ...(g.parent ? { parent: g.parent } : {}) });
  return list;
}

function setLock(cs: ClusterState, g: Guest, lock: string | null): void {
  g.lock = lock;
  cs.changed();
}

/** POST .../snapshot. */
export function takeSnapshot(cs: ClusterState, g: Guest, snapname: string, user: string, description = ''): string {
  if (snapname === 'current' || snapname === 'pending') throw fail(`unable to use snapshot name '${snapname}' (reserved name)`);
  const held = g.lock;
  if (!held && !g.template) setLock(cs, g, 'snapshot');
  return cs.task(g, 'snapshot', user, () => {
    if (g.template) throw new Error("you can't take a snapshot if it's a template");
    if (held) throw new Error(`${label(g)} is locked (${held})`);
    setLock(cs, g, null);
    if (g.snapshots.some((s) => s.name === snapname)) throw new Error(`snapshot name '${snapname}' already used`);
    g.snapshots.push({ name: snapname, snaptime: Math.floor(Date.now() / 1000), description, parent: g.parent });
    g.parent = snapname;
  });
}

/** POST .../snapshot/{name}/rollback: stops the guest (no RAM state), optionally starts it again. */
export function rollbackGuest(cs: ClusterState, g: Guest, snapname: string, start: boolean, user: string): string {
  const held = g.lock;
  if (!held && !g.template) setLock(cs, g, 'rollback');
  return cs.task(g, 'rollback', user, () => {
    const release = (): void => {
      if (!held && g.lock === 'rollback') setLock(cs, g, null);
    };
    try {
      if (g.template) throw new Error("you can't rollback if vm is a template");
      const at = g.snapshots.findIndex((s) => s.name === snapname);
      if (at < 0) throw new Error(`snapshot '${snapname}' does not exist`);
      if (STORAGES[g.storage].rollbackOnlyLatest && at < g.snapshots.length - 1) {
        throw new Error(`can't rollback, '${snapname}' is not most recent snapshot on '${diskVolid(g.storage, g.type, g.vmid, false)}'`);
      }
      if (held) throw new Error(`${label(g)} is locked (${held})`);
    } catch (e) {
      release();
      throw e;
    }
    release();
    cs.halt(g);
    g.parent = snapname;
    if (start) cs.boot(g);
  });
}

const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/i;

/** Applies PUT/POST .../config parameters to a guest (after PVE's checks). */
function applyConfig(g: Guest, params: Record<string, string | undefined>): void {
  const del = (params.delete ?? '').split(/[,;\s]+/).filter(Boolean);
  for (const key of del) {
    if (key === 'tags') g.tags = [];
    else if (key === 'description') g.description = undefined;
    else if (key === 'onboot') g.onboot = false;
    else if (key === 'agent' && g.type === 'qemu') g.agent = false;
  }
  const name = g.type === 'qemu' ? params.name : params.hostname;
  if (name !== undefined) g.name = name;
  if (params.tags !== undefined) g.tags = [...new Set(params.tags.split(/[;, ]+/).filter(Boolean))];
  if (params.description !== undefined) g.description = params.description;
  if (params.onboot !== undefined) g.onboot = /^(1|true|yes|on)$/i.test(params.onboot);
  if (params.cores !== undefined) g.cores = Number(params.cores);
  if (params.memory !== undefined) {
    const m = /^(?:current=)?(\d+)/.exec(params.memory);
    if (m) g.memoryMiB = Number(m[1]);
  }
  if (params.agent !== undefined && g.type === 'qemu') g.agent = /^(1|enabled=1)/.test(params.agent);
}

/**
 * PUT (sync, answers null) or POST (qemu only: a qmconfig task) .../config, checked like
 * update_vm: the tag format, root-only skiplock, the guest lock and the digest.
 */
export async function updateConfig(cs: ClusterState, g: Guest, params: Record<string, string | undefined>, user: string, async: boolean): Promise<string | null> {
  if (params.skiplock !== undefined && /^(1|true|yes|on)$/i.test(params.skiplock) && user !== 'root@pam') {
    throw paramError({ skiplock: 'Only root may use this option.' });
  }
  if (params.tags !== undefined) {
    for (const t of params.tags.split(/[;, ]+/).filter(Boolean)) if (!TAG_RE.test(t)) throw paramError({ tags: 'invalid format - invalid characters in tag\n' });
  }
  const skiplock = params.skiplock !== undefined && /^(1|true|yes|on)$/i.test(params.skiplock);
  const check = (): void => {
    if (cs.guests.get(g.vmid) !== g) throw fail(`Configuration file 'nodes/${g.node}/${g.type === 'qemu' ? 'qemu-server' : 'lxc'}/${g.vmid}.conf' does not exist`);
    if (params.digest !== undefined && params.digest !== digestOf(g)) throw fail('detected modified configuration - file changed by other user? Try again.');
    if (g.lock && !skiplock) throw fail(`${label(g)} is locked (${g.lock})`);
  };
  const apply = (): void => {
    applyConfig(g, params);
    cs.touch(g);
    cs.changed();
  };
  // update_vm checks under lock_config before it forks; the async variant applies in its worker.
  const release = await cs.locks.lock(lockPath(g.type, g.vmid), false, cs.settings.locks.configTimeoutMs).catch((e: unknown) => {
    throw fail(message(e));
  });
  try {
    check();
    if (!async) apply();
  } finally {
    release();
  }
  return async ? cs.task(g, 'config', user, apply) : null;
}
