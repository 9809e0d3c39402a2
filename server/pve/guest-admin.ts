// The Proxmox calls that create and change guests (provisioning, revert, remove): next free id,
// clone, config, snapshot, rollback, stop, destroy and task status. Its own HTTP pool per
// cluster, so long clone runs never queue behind the sync passes. Writes are sent exactly once.
import type { PveCalls } from './http.js';
import * as v from 'valibot';
import type { ClusterConfig } from '../config.js';
import { PveError } from './errors.js';
import { PveHttp } from './http.js';
import { normaliseTaskStatus, parseUpid, type GuestType } from './normalise.js';

/** A guest's config fields provisioning reads. */
export interface AdminConfig {
  name: string | null;
  tags: string[];
  lock: string | null;
  template: boolean;
  digest: string | null;
}

export interface CloneRequest {
  newid: number;
  name: string;
  full?: boolean;
  pool?: string;
  target?: string;
  description?: string;
}

export interface GuestAdmin {
  readonly cluster: string;
  /** `GET /cluster/nextid`: the lowest free id now (reserves nothing). */
  nextId(): Promise<number>;
  /** `GET /cluster/nextid?vmid=`: true when the id is free now. */
  isFree(vmid: number): Promise<boolean>;
  clone(node: string, type: GuestType, vmid: number, req: CloneRequest): Promise<string>;
  /** The config, or null when the guest does not exist on that node. */
  config(node: string, type: GuestType, vmid: number): Promise<AdminConfig | null>;
  /** `PUT .../config` (synchronous). */
  setConfig(node: string, type: GuestType, vmid: number, params: Record<string, string | number>): Promise<void>;
  snapshots(node: string, type: GuestType, vmid: number): Promise<string[]>;
  snapshot(node: string, type: GuestType, vmid: number, snapname: string, description: string): Promise<string>;
  rollback(node: string, type: GuestType, vmid: number, snapname: string, start: boolean): Promise<string>;
  stop(node: string, type: GuestType, vmid: number): Promise<string>;
  /** `GET .../status/current` status only. */
  running(node: string, type: GuestType, vmid: number): Promise<boolean>;
  destroy(node: string, type: GuestType, vmid: number): Promise<string>;
  taskStatus(node: string, upid: string): Promise<{ status: 'running' | 'stopped'; exitstatus?: string }>;
  close(): Promise<void>;
}

const NextId = v.union([v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number)), v.pipe(v.number(), v.integer())]);
const ConfigSchema = v.looseObject({
  name: v.optional(v.unknown()),
  hostname: v.optional(v.unknown()),
  tags: v.optional(v.unknown()),
  lock: v.optional(v.unknown()),
  template: v.optional(v.unknown()),
  digest: v.optional(v.unknown()),
});
const SnapshotList = v.array(v.looseObject({ name: v.string() }));

const text = (x: unknown): string | null => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : null);

/** Whether an error says the guest's config does not exist (it was never made, or it is gone). */
export function isMissingGuest(err: unknown): boolean {
  return err instanceof PveError && /Configuration file .* does not exist|does not exist$/i.test(err.reason);
}

async function read<T>(cluster: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PveError) throw err;
    throw new PveError(cluster, 200, `unreadable answer to ${what}: ${(err as Error).message}`, 'invalid-response');
  }
}

/** Makes the guest-admin client of one configured cluster. */
export function createGuestAdmin(cluster: ClusterConfig, calls?: PveCalls): GuestAdmin {
  const http = new PveHttp({
    cluster: cluster.id, url: cluster.url,
    auth: { kind: 'token', tokenId: cluster.tokenId, tokenSecret: cluster.tokenSecret },
    timeoutMs: cluster.timeoutMs, verifyTls: cluster.verifyTls, calls,
  });
  const id = cluster.id;
  const base = (node: string, type: GuestType, vmid: number) => `/api2/json/nodes/${encodeURIComponent(node)}/${type}/${vmid}`;
  const call = (method: string, path: string, params?: Record<string, unknown>) => http.doRequest(method, path, '', params);
  const upid = (what: string, p: Promise<unknown>) => read(id, what, async () => parseUpid(await p));

  return {
    cluster: id,
    nextId: () => read(id, 'cluster/nextid', async () => v.parse(NextId, await call('GET', '/api2/json/cluster/nextid'))),
    async isFree(vmid) {
      try {
        await call('GET', '/api2/json/cluster/nextid', { vmid });
        return true;
      } catch (err) {
        if (err instanceof PveError && err.status === 400) return false;
        throw err;
      }
    },
    clone: (node, type, vmid, req) => upid('clone', call('POST', `${base(node, type, vmid)}/clone`, {
      newid: req.newid, [type === 'qemu' ? 'name' : 'hostname']: req.name, full: req.full === undefined ? undefined : req.full ? 1 : 0,
      pool: req.pool, target: req.target, description: req.description,
    })),
    async config(node, type, vmid) {
      let raw: unknown;
      try {
        raw = await call('GET', `${base(node, type, vmid)}/config`);
      } catch (err) {
        if (isMissingGuest(err)) return null;
        throw err;
      }
      return read(id, 'config', async () => {
        const c = v.parse(ConfigSchema, raw);
        const tags = text(c.tags);
        return {
          name: text(type === 'qemu' ? c.name : c.hostname), tags: tags ? tags.split(/[;, ]+/).filter(Boolean) : [],
          lock: text(c.lock), template: text(c.template) === '1', digest: text(c.digest),
        };
      });
    },
    async setConfig(node, type, vmid, params) {
      await call('PUT', `${base(node, type, vmid)}/config`, params);
    },
    snapshots: (node, type, vmid) => read(id, 'snapshot list', async () =>
      v.parse(SnapshotList, await call('GET', `${base(node, type, vmid)}/snapshot`)).map((s) => s.name).filter((n) => n !== 'current')),
    snapshot: (node, type, vmid, snapname, description) => upid('snapshot', call('POST', `${base(node, type, vmid)}/snapshot`, { snapname, description })),
    rollback: (node, type, vmid, snapname, start) =>
      upid('rollback', call('POST', `${base(node, type, vmid)}/snapshot/${encodeURIComponent(snapname)}/rollback`, start ? { start: 1 } : {})),
    stop: (node, type, vmid) => upid('stop', call('POST', `${base(node, type, vmid)}/status/stop`)),
    running: (node, type, vmid) => read(id, 'status/current', async () => {
      const s = v.parse(v.looseObject({ status: v.string() }), await call('GET', `${base(node, type, vmid)}/status/current`));
      return s.status === 'running';
    }),
    destroy: (node, type, vmid) => upid('destroy', call('DELETE', base(node, type, vmid), { purge: 1 })),
    taskStatus: (node, u) => read(id, 'task status', async () =>
      normaliseTaskStatus(await call('GET', `/api2/json/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(u)}/status`))),
    close: () => http.close(),
  };
}
