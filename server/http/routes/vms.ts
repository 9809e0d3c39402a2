// VM reads (list, since, status, IP, RDP file, SSH details) and power actions, single and bulk.
// Reads come from the inventory only; every route asks the permissions module.
import { Hono, type Context } from 'hono';
import * as v from 'valibot';
import type { ApiDeps } from '../deps.js';
import type { AppEnv } from '../env.js';
import { conflict, forbidden, notFound, shownTo, DomainError, statusOf } from '../errors.js';
import { requireUser } from '../middleware.js';
import { body, params, query, ClusterId, IdString, Vmid, VmidString } from '../validate.js';
import type { SessionUser } from '../../auth/session.js';
import { clusterOfVmKey, finalOf, parseVmKey, vmCategories, vmKey, vmStatuses, vmTypes, type Vm } from '../../../contract/vm.js';
import { actionNames, type ActionName } from '../../actions/power.js';
import { mapLimit } from '../../limit.js';
import { notYourVm, resolveVisibleVm } from '../../auth/visible-vm.js';
import type { BulkActionResponse, BulkResult, PowerActionResponse, VmListResponse, VmSinceResponse } from '../../../contract/vm-api.js';
import type { AuditInput } from '../../auth/audit-log.js';
import { cleanName } from '../../pve/normalise.js';

const sortKeys = ['name', 'vmid', 'status', 'node', 'cluster', 'lastUpdated', 'ip'] as const;

const ListQuery = v.strictObject({
  cluster: v.optional(ClusterId),
  node: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/, 'must be a node name'))),
  status: v.optional(v.picklist(vmStatuses)),
  type: v.optional(v.picklist(vmTypes)),
  category: v.optional(v.picklist(vmCategories)),
  tag: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/, 'must be a Proxmox tag'))),
  class: v.optional(IdString),
  q: v.optional(v.pipe(v.string(), v.maxLength(100))),
  sort: v.optional(v.picklist(sortKeys)),
  order: v.optional(v.picklist(['asc', 'desc'])),
  since: v.optional(v.pipe(v.string(), v.regex(/^(0|[1-9][0-9]{0,14})$/, 'must be a revision number'), v.transform(Number))),
});

const ClusterQuery = v.strictObject({ cluster: v.optional(ClusterId) });

const BulkBody = v.pipe(
  v.strictObject({
    action: v.picklist(actionNames),
    vms: v.optional(v.pipe(v.array(v.strictObject({ cluster: ClusterId, vmid: Vmid })), v.minLength(1), v.maxLength(500))),
    classId: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  }),
  v.check((b) => (b.vms === undefined) !== (b.classId === undefined), 'give either vms or classId'),
);

/** Orders VMs by a column; ties by cluster and vmid (pure). */
export function compareVms(key: (typeof sortKeys)[number] = 'vmid', order: 'asc' | 'desc' = 'asc'): (a: Vm, b: Vm) => number {
  const dir = order === 'desc' ? -1 : 1;
  const val = (vm: Vm): string | number => {
    switch (key) {
      case 'vmid': return vm.vmid;
      case 'lastUpdated': return vm.lastUpdated;
      case 'ip': return vm.ip ?? '';
      default: return String(vm[key]);
    }
  };
  return (a, b) => {
    const x = val(a), y = val(b);
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return dir * c || a.cluster.localeCompare(b.cluster) || a.vmid - b.vmid;
  };
}

/** Sorts VMs in place by a column; ties by cluster and vmid (pure). */
export function sortVms(vms: Vm[], key: (typeof sortKeys)[number] = 'vmid', order: 'asc' | 'desc' = 'asc'): Vm[] {
  return vms.sort(compareVms(key, order));
}

/** Does an Accept-Encoding header allow gzip (not `gzip;q=0`) (pure). */
export function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';').map((x) => x.trim());
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** A value for one line of an .rdp file: a CR, LF or other control character would start a directive of its own (pure). */
const rdpValue = (s: string | null | undefined): string => cleanName(s ?? '') ?? '';

/** The text of a Windows Remote Desktop file for a VM (pure). */
export function rdpFile(vm: Vm, username: string): string {
  return [
    `full address:s:${rdpValue(vm.ip)}:3389`, `username:s:${rdpValue(username)}`, 'prompt for credentials:i:1', 'administrative session:i:0',
    'screen mode id:i:2', 'authentication level:i:2', `alternate shell:s:`, `remoteapplicationname:s:${rdpValue(vm.name)}`, '',
  ].join('\r\n');
}

/** How many refused VMs one audit entry names before "and N more". */
const DENIED_NAMED = 20;

/** One audit entry for all the VMs a bulk request was refused (pure). */
export function deniedEntry(user: SessionUser, action: ActionName, vms: ReadonlyArray<{ cluster: string; vmid: number }>, classId: number | null): AuditInput {
  const one = vms.length === 1 ? vms[0] : null;
  const named = vms.slice(0, DENIED_NAMED).map((t) => vmKey(t.cluster, t.vmid)).join(', ');
  const more = vms.length > DENIED_NAMED ? ` and ${vms.length - DENIED_NAMED} more` : '';
  return {
    actor: { id: user.id, username: user.username }, action: `vm.${action}`, target: 'vm', outcome: 'denied', classId,
    cluster: one?.cluster ?? null, vmid: one?.vmid ?? null, count: vms.length,
    detail: one ? null : `refused ${vms.length} VMs: ${named}${more}`,
  };
}

export function vmRoutes(deps: ApiDeps) {
  const app = new Hono<AppEnv>();

  app.get('/vms', async (c) => {
    const user = requireUser(c);
    const q = query(c, ListQuery);
    const visible = deps.access.visibleVmKeys(user);
    let keys: Set<string> | 'all' = visible;
    if (q.class !== undefined) {
      if (!deps.access.snapshot().classes.has(q.class)) throw notFound(`class ${q.class} does not exist`);
      if (!deps.access.canSeeClass(user, q.class)) throw forbidden('you are not in this class');
      const ofClass = deps.access.vmKeysOfClass(q.class);
      keys = new Set([...ofClass].filter((k) => visible === 'all' || visible.has(k)));
    }
    if (deps.reads && q.since === undefined) {
      const reads = deps.reads;
      const filter = { cluster: q.cluster, node: q.node, status: q.status, type: q.type, category: q.category, tag: q.tag, q: q.q };
      const filtered = Object.values(filter).some((x) => x !== undefined);
      // Everything in the default order: the cached body, sent as it is.
      if (keys === 'all' && !filtered && q.sort === undefined && q.order === undefined) {
        const all = await reads.allBody();
        if (acceptsGzip(c.req.header('Accept-Encoding'))) {
          return c.body(await all.gzip(), 200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' });
        }
        return c.body(all.body, 200, { 'Content-Type': 'application/json', Vary: 'Accept-Encoding' });
      }
      const stale = await reads.staleness();
      const revision = reads.revision();
      let list = keys === 'all' ? reads.all() : reads.byKeys(keys);
      if (filtered) list = reads.filter(filter, list);
      if (keys !== 'all' || q.sort !== undefined || q.order !== undefined) {
        const cmp = compareVms(q.sort, q.order);
        list = [...list].sort(cmp);
      }
      c.header('Content-Type', 'application/json');
      return c.body(`{"revision":${revision},"vms":${reads.jsonArray(list, stale)}}`);
    }
    const revision = await deps.inventory.currentRevision();
    // A revision from the future (another database, a restore) cannot be caught up from: start over.
    const reset = q.since !== undefined && q.since > revision;
    if (q.since !== undefined && !reset) {
      const s = await deps.inventory.since(q.since);
      const see = (id: string) => keys === 'all' || keys.has(id);
      // Staleness is not a change with a revision: a client that was away learns it here (a cluster
      // that recovered while it was gone has no changed VM to carry the news).
      const seenClusters = keys === 'all' ? null : new Set([...keys].map(clusterOfVmKey));
      const clusters = deps.sync.status().clusters.filter((cl) => !seenClusters || seenClusters.has(cl.id))
        .map((cl) => ({ cluster: cl.id, stale: cl.stale, lastSuccessAt: cl.lastSuccessAt }));
      return c.json({ revision: s.revision, vms: s.vms.filter((vm) => see(vm.id)), removed: s.removed.filter(see), clusters } satisfies VmSinceResponse);
    }
    const extra: Pick<VmListResponse, 'removed' | 'reset'> = reset ? { removed: [], reset: true } : {};
    if (keys !== 'all' && keys.size === 0) return c.json({ revision, vms: [], ...extra } satisfies VmListResponse);
    const vms = await deps.inventory.list({
      cluster: q.cluster, node: q.node, status: q.status, type: q.type, category: q.category, tag: q.tag, q: q.q,
      keys: keys === 'all' ? undefined : [...keys],
    });
    return c.json({ revision, vms: sortVms(vms, q.sort, q.order), ...extra } satisfies VmListResponse);
  });

  const vmOf = async (c: Context<AppEnv>) => {
    const user = requireUser(c);
    const { vmid } = params(c, v.object({ vmid: VmidString }));
    const { cluster } = query(c, ClusterQuery);
    return { user, vm: await resolveVisibleVm(deps, user, vmid, cluster) };
  };

  app.get('/vm/:vmid/status', async (c) => {
    const { vm } = await vmOf(c);
    return c.json(vm);
  });

  app.get('/vm/:vmid/ip', async (c) => {
    const { vm } = await vmOf(c);
    return c.json({ id: vm.id, cluster: vm.cluster, vmid: vm.vmid, ip: vm.ip, reason: vm.ip ? null : (vm.ipReason ?? 'not-checked'), stale: vm.stale, lastSeen: vm.lastSeen });
  });

  app.get('/vm/:vmid/rdp', async (c) => {
    const { user, vm } = await vmOf(c);
    if (!vm.ip) throw conflict(`VM ${vm.vmid} has no IP address (${vm.ipReason ?? 'not-checked'})`);
    const name = `${vm.name || `vm-${vm.vmid}`}.rdp`.replace(/[^A-Za-z0-9._-]/g, '_');
    return c.body(rdpFile(vm, user.username), 200, {
      'Content-Type': 'application/x-rdp; charset=utf-8',
      'Content-Disposition': `attachment; filename="${name}"`,
    });
  });

  app.get('/vm/:vmid/ssh', async (c) => {
    const { user, vm } = await vmOf(c);
    if (!vm.ip) throw conflict(`VM ${vm.vmid} has no IP address (${vm.ipReason ?? 'not-checked'})`);
    return c.json({ id: vm.id, host: vm.ip, port: 22, username: user.username, command: `ssh ${user.username}@${vm.ip}`, available: vm.sshAvailable });
  });

  app.post('/vm/:vmid/:action', async (c, next) => {
    // Not a power action: another module's route (the console, revert) or, in the end, the API's 404.
    if (!(actionNames as readonly string[]).includes(c.req.param('action'))) return next();
    const user = requireUser(c);
    const { vmid, action } = params(c, v.object({ vmid: VmidString, action: v.picklist(actionNames) }));
    const { cluster } = query(c, ClusterQuery);
    let vm: Vm;
    try {
      vm = await resolveVisibleVm(deps, user, vmid, cluster);
      if (!deps.access.canActOnVm(user, vm.cluster, vm.vmid)) throw forbidden(`you may not ${action} VM ${vmid}`);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'forbidden') {
        await deps.audit.record({ actor: user, action: `vm.${action}`, target: 'vm', cluster: cluster ?? null, vmid, outcome: 'denied', classId: cluster ? deps.access.actionClass(user, cluster, vmid) : null });
      }
      throw err;
    }
    const r = await deps.power.run(user, vm, action, undefined, deps.access.actionClass(user, vm.cluster, vm.vmid));
    return c.json({ vm: r.vm, task: r.task, done: r.done } satisfies PowerActionResponse, r.done ? 200 : 202);
  });

  app.post('/vms/actions', async (c) => {
    const user = requireUser(c);
    const b = await body(c, BulkBody);
    const action: ActionName = b.action;
    let targets: Array<{ cluster: string; vmid: number }>;
    if (b.classId !== undefined) {
      if (!deps.access.snapshot().classes.has(b.classId)) throw notFound(`class ${b.classId} does not exist`);
      if (!deps.access.canManageClass(user, b.classId)) throw forbidden('only the teachers of this class may act on all its VMs');
      targets = [...deps.access.vmKeysOfClass(b.classId)].map(parseVmKey).filter((t) => t !== null);
    } else {
      targets = b.vms!;
    }
    const deadline = Date.now() + 2000;
    const admin = user.role === 'admin';
    // Every refusal of this request goes into one audit entry (with a count), written at the end.
    const denied = new Set<{ cluster: string; vmid: number }>();
    const results = await mapLimit(targets, 4, async (t): Promise<BulkResult> => {
      const id = vmKey(t.cluster, t.vmid);
      try {
        const vm = await deps.inventory.get(t.cluster, t.vmid);
        const missing = !vm;
        if (missing && admin) throw notFound(`VM ${id} does not exist`);
        if (missing || !deps.access.canActOnVm(user, vm.cluster, vm.vmid)) {
          denied.add(t);
          throw notYourVm(t.vmid, t.cluster, action);
        }
        if (b.classId !== undefined && vm.template) throw conflict(`VM ${id} is a template`);
        // Already where the action would take it: nothing to ask Proxmox, and the answer says so.
        if (vm.status === finalOf[action] && action !== 'reboot') {
          return { id, cluster: t.cluster, vmid: t.vmid, ok: true, httpStatus: 200, status: vm.status, skipped: `already ${vm.status}` };
        }
        const classId = b.classId ?? deps.access.actionClass(user, vm.cluster, vm.vmid);
        const r = await deps.power.run(user, vm, action, Math.max(0, deadline - Date.now()), classId);
        return { id, cluster: t.cluster, vmid: t.vmid, ok: true, httpStatus: r.done ? 200 : 202, status: r.vm.status, task: r.task };
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        const shown = shownTo(err, admin);
        return { id, cluster: t.cluster, vmid: t.vmid, ok: false, httpStatus: statusOf(err), error: { code: shown.code, message: shown.message } };
      }
    });
    if (denied.size > 0) await deps.audit.record(deniedEntry(user, action, targets.filter((t) => denied.has(t)), b.classId ?? null));
    return c.json({ action, results } satisfies BulkActionResponse);
  });

  return app;
}
