// HTTP routes of provisioning: jobs (start, progress, cancel, list), the VMs labdeck made for a
// class (list, reset all, remove), revert of one VM, and the inventory picker. Rules live in
// ProvisionService; this file validates input and maps answers.
import { Hono, type Context } from 'hono';
import * as v from 'valibot';
import type { ApiDeps } from '../http/deps.js';
import type { AppEnv } from '../http/env.js';
import { requireUser } from '../http/middleware.js';
import { body, params, query, ClusterId, IdString, Vmid, VmidString } from '../http/validate.js';
import { resolveVisibleVm } from '../auth/visible-vm.js';
import type { JobListResponse, JobResponse, PickerResponse, ProvisionedResponse, RemoveResponse, ResetResponse, RevertResponse } from '../../contract/provision.js';
import type { ProvisionService } from './service.js';

const ClassId = v.object({ id: IdString });
const JobPath = v.object({ id: IdString, jobId: IdString });
const ProvisionBody = v.strictObject({
  cluster: ClusterId,
  templateVmid: Vmid,
  count: v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1')),
  namePrefix: v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.regex(/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/, 'must be lower-case letters, digits and -, at most 42 characters, as in a host name'))),
  full: v.optional(v.boolean()),
  baseline: v.optional(v.boolean()),
  assign: v.optional(v.boolean()),
});
const RemoveBody = v.strictObject({
  vms: v.optional(v.pipe(v.array(v.strictObject({ cluster: ClusterId, vmid: Vmid })), v.minLength(1, 'list at least one VM'), v.maxLength(1000))),
});
const SearchQuery = v.strictObject({
  q: v.optional(v.pipe(v.string(), v.maxLength(100)), ''),
  kind: v.optional(v.picklist(['template', 'vm'], "must be 'template' or 'vm'"), 'vm'),
  cluster: v.optional(ClusterId),
  limit: v.optional(v.pipe(v.string(), v.regex(/^[1-9][0-9]?$|^100$/, 'must be 1 to 100'), v.transform(Number)), '25'),
});
const VmPath = v.object({ vmid: VmidString });
const ClusterQuery = v.strictObject({ cluster: v.optional(ClusterId) });

export function provisionRoutes(deps: ApiDeps, svc: ProvisionService) {
  const app = new Hono<AppEnv>();

  app.post('/classes/:id/provision', async (c) => {
    const user = requireUser(c);
    const { id } = params(c, ClassId);
    const input = await body(c, ProvisionBody);
    return c.json({ job: await svc.provision(user, id, input) } satisfies JobResponse, 202);
  });
  app.get('/classes/:id/provision', async (c) => {
    const { id } = params(c, ClassId);
    return c.json({ jobs: await svc.jobs(requireUser(c), id) } satisfies JobListResponse);
  });
  app.get('/classes/:id/provision/:jobId', async (c) => {
    const { id, jobId } = params(c, JobPath);
    return c.json(await svc.job(requireUser(c), id, jobId));
  });
  app.post('/classes/:id/provision/:jobId/cancel', async (c) => {
    const { id, jobId } = params(c, JobPath);
    return c.json({ job: await svc.cancel(requireUser(c), id, jobId) } satisfies JobResponse);
  });
  app.get('/classes/:id/provisioned', async (c) => {
    const { id } = params(c, ClassId);
    return c.json({ vms: await svc.provisioned(requireUser(c), id) } satisfies ProvisionedResponse);
  });
  app.post('/classes/:id/reset', async (c) => {
    const { id } = params(c, ClassId);
    await body(c, v.strictObject({}));
    const results = await svc.reset(requireUser(c), id);
    return c.json({ results, reverted: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length } satisfies ResetResponse);
  });
  app.post('/classes/:id/remove-vms', async (c) => {
    const { id } = params(c, ClassId);
    const b = await body(c, RemoveBody);
    const results = await svc.remove(requireUser(c), id, b.vms);
    return c.json({ results, removed: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length } satisfies RemoveResponse);
  });
  app.get('/classes/:id/inventory', async (c) => {
    const { id } = params(c, ClassId);
    const q = query(c, SearchQuery);
    const vms = await svc.search(requireUser(c), id, { q: q.q, templates: q.kind === 'template', cluster: q.cluster, limit: q.limit });
    return c.json({ vms: vms.map((vm) => ({ cluster: vm.cluster, vmid: vm.vmid, name: vm.name, node: vm.node, type: vm.type, status: vm.status, tags: vm.tags, pool: vm.pool, template: vm.template })) } satisfies PickerResponse);
  });
  /** The caller and the VM a bodiless `POST /vm/:vmid/…?cluster=` names (validated, visibility checked). */
  const vmAction = async (c: Context<AppEnv>) => {
    const user = requireUser(c);
    const { vmid } = params(c, VmPath);
    const { cluster } = query(c, ClusterQuery);
    await body(c, v.strictObject({}));
    return { user, vm: await resolveVisibleVm(deps, user, vmid, cluster) };
  };
  app.post('/vm/:vmid/revert', async (c) => {
    const { user, vm } = await vmAction(c);
    return c.json(await svc.revert(user, vm) satisfies RevertResponse);
  });
  app.post('/vm/:vmid/reclone', async (c) => {
    const { user, vm } = await vmAction(c);
    return c.json({ job: await svc.reclone(user, vm) } satisfies JobResponse, 202);
  });
  return app;
}
