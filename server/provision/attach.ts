// Wires provisioning into the running server: a guest-admin client per cluster, the one job
// runner (resuming interrupted jobs), the service, its routes, and the live progress push to the
// class's teachers.
import type { PveCalls } from '../pve/http.js';
import { ADMIN_ROOM, PROJECTOR_ROOM, classRoom } from '../../contract/rooms.js';
import type { Hono } from 'hono';
import type { AppConfig } from '../config.js';
import type { Db } from '../db/index.js';
import type { Access } from '../auth/permissions.js';
import type { AuditLog } from '../auth/audit-log.js';
import type { ClassesRepo } from '../classes/repository.js';
import type { InventoryReader } from '../inventory/reader.js';
import type { SyncControl } from '../sync/control.js';
import type { ApiDeps } from '../http/deps.js';
import type { AppEnv } from '../http/env.js';
import type { Realtime } from '../realtime/hub.js';
import { createGuestAdmin, type GuestAdmin } from '../pve/guest-admin.js';
import { log } from '../log.js';
import { instanceName } from '../instance.js';
import { vmKey } from '../../contract/vm.js';
import { ProvisionRepo } from './repository.js';
import { ProvisionRunner } from './runner.js';
import { ProvisionService } from './service.js';
import { provisionRoutes } from './routes.js';
import { classScope, type ScopeGate } from './scope-gate.js';

export interface ProvisionDeps {
  db: Db;
  config: AppConfig;
  access: Access;
  audit: AuditLog;
  classesRepo: ClassesRepo;
  inventory: InventoryReader;
  sync: Pick<SyncControl, 'trigger' | 'watch'>;
  scope?: ScopeGate;
  /** The metrics' view of Proxmox calls. */
  pveCalls?: PveCalls;
}

export interface Provisioning {
  service: ProvisionService;
  runner: ProvisionRunner;
  repo: ProvisionRepo;
  /** Mounts the routes under /api. */
  mount(app: Hono<AppEnv>, api: ApiDeps): void;
  /** Pushes progress through the hub and resumes interrupted jobs. */
  start(realtime: Realtime | null): Promise<void>;
  close(): Promise<void>;
}

/** Builds provisioning; nothing runs until start(). */
export function createProvisioning(d: ProvisionDeps): Provisioning {
  const repo = new ProvisionRepo(d.db);
  const admins = new Map<string, GuestAdmin>(d.config.clusters.map((c) => [c.id, createGuestAdmin(c, d.pveCalls)]));
  const scope = d.scope ?? classScope(d.access, () => d.config.clusters.map((c) => c.id));
  const opts = d.config.provision;
  let realtime: Realtime | null = null;

  // Several steps of one job in a burst make one push.
  const pending = new Set<number>();
  let timer: NodeJS.Timeout | null = null;
  const flush = async () => {
    timer = null;
    const ids = [...pending];
    pending.clear();
    if (!realtime) return;
    for (const id of ids) {
      const job = await service.view(id).catch(() => null);
      if (!job) continue;
      // Teachers of the class and admins; projector sockets share the class room but get nothing.
      realtime.send({ to: [classRoom(job.classId), ADMIN_ROOM], except: PROJECTOR_ROOM }, 'provision:progress', { classId: job.classId, job });
    }
  };
  const changed = (jobId: number) => {
    pending.add(jobId);
    timer ??= setTimeout(() => void flush().catch((err) => log.warn({ err: (err as Error).message }, 'provision push failed')), 100);
  };

  const refreshTimers = new Map<string, NodeJS.Timeout>();
  const refresh = (cluster: string) => {
    if (refreshTimers.has(cluster)) return;
    refreshTimers.set(cluster, setTimeout(() => {
      refreshTimers.delete(cluster);
      d.sync.trigger({ cluster, kind: 'quick' }).catch((err) => log.warn({ cluster, err: (err as Error).message }, 'sync after provisioning failed'));
    }, 250));
  };

  const runner = new ProvisionRunner({
    repo,
    admin: (c) => admins.get(c),
    async register(classId, cluster, vmid) {
      // Approved: labdeck made it for this class from a template the class's scope allowed.
      await d.classesRepo.addPoolEntry(classId, { kind: 'vm', cluster, vmid, value: null, approved: true });
      await d.access.changed({ userIds: [], classIds: [classId] });
    },
    async unregister(classId, cluster, vmid) {
      const users = (d.access.snapshot().assignmentsOfVm.get(vmKey(cluster, vmid)) ?? []).filter((a) => a.classId === classId).map((a) => a.userId);
      const entry = (await d.classesRepo.pool(classId)).find((p) => p.kind === 'vm' && p.cluster === cluster && p.vmid === vmid);
      if (entry) await d.classesRepo.removePoolEntry(classId, entry.id);
      else await d.classesRepo.unassign(classId, cluster, vmid);
      await d.access.changed({ userIds: users, classIds: [classId] });
    },
    async assign(classId, cluster, vmid, userId) {
      if (!(await d.classesRepo.members(classId)).some((m) => m.id === userId)) return false;
      await d.classesRepo.assign(classId, cluster, vmid, userId);
      await d.access.changed({ userIds: [userId], classIds: [classId] });
      return true;
    },
    async known(cluster, vmid) {
      const vm = await d.inventory.get(cluster, vmid);
      return !!vm && !(vm as { deleted?: boolean }).deleted;
    },
    changed,
    refresh,
    vmidRange: (classId, cluster) => scope.placement(classId, cluster).range,
  }, {
    perNode: opts.perNode, retries: opts.retries, retryBaseMs: opts.retryBaseMs, pollMs: opts.pollMs,
    // Several instances: a job belongs to the one running it while its lease is renewed.
    instance: instanceName(d.config), ...(d.config.instance.shared ? { leaseRenewMs: opts.leaseRenewMs } : {}),
  });

  const service = new ProvisionService({
    repo, runner, classesRepo: d.classesRepo, access: d.access, audit: d.audit, inventory: d.inventory,
    admin: (c) => admins.get(c), scope, maxCount: opts.maxCount, pollMs: Math.min(opts.pollMs, 250),
    watch: (c, vmid) => d.sync.watch(c, vmid), refresh,
  });

  return {
    service, runner, repo,
    mount(app, api) {
      app.route('/api', provisionRoutes(api, service));
    },
    async start(rt) {
      realtime = rt;
      await runner.start();
    },
    async close() {
      await runner.close();
      if (timer) clearTimeout(timer);
      for (const t of refreshTimers.values()) clearTimeout(t);
      await Promise.all([...admins.values()].map((a) => a.close()));
    },
  };
}
