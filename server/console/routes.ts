// POST /api/vm/:vmid/console: a one-time console link for whoever may act on the VM. The answer
// names the kind (VNC for qemu, a terminal for LXC), the WebSocket path with its token, the VNC
// password noVNC needs, when the link expires, and whether it controls or only watches: a
// teacher or admin looking at a student's VM watches unless they ask for control.
import { Hono } from 'hono';
import * as v from 'valibot';
import type { ApiDeps } from '../http/deps.js';
import type { AppEnv } from '../http/env.js';
import { conflict, forbidden } from '../http/errors.js';
import { requireUser } from '../http/middleware.js';
import { body, params, query, ClusterId, VmidString } from '../http/validate.js';
import { resolveVisibleVm } from '../auth/visible-vm.js';
import { vmKey } from '../../contract/vm.js';
import type { ConsoleLink } from '../../contract/console.js';
import type { ConsoleTokenRepo, ConsoleMode } from './token-repo.js';
import { CONSOLE_SOCKET_PATH, type ConsoleRelay } from './relay.js';

const Body = v.strictObject({ control: v.optional(v.boolean()) });

export interface ConsoleRouteDeps {
  tokens: ConsoleTokenRepo;
  relay: ConsoleRelay;
  /** How long a link may wait for its connection (default 30 s; tests shorten it). */
  ttlMs: number;
}

export function consoleRoutes(deps: ApiDeps, cons: ConsoleRouteDeps) {
  const app = new Hono<AppEnv>();
  app.post('/api/vm/:vmid/console', async (c) => {
    const user = requireUser(c);
    const { vmid } = params(c, v.object({ vmid: VmidString }));
    const { cluster } = query(c, v.strictObject({ cluster: v.optional(ClusterId) }));
    const { control } = await body(c, Body);
    const vm = await resolveVisibleVm(deps, user, vmid, cluster);
    if (!deps.access.canActOnVm(user, vm.cluster, vm.vmid)) throw forbidden(`you may not open the console of VM ${vmid}`);
    if (vm.status === 'stopped') throw conflict(`VM ${vm.name} is stopped: start it first`);
    if (!deps.config.clusters.some((x) => x.id === vm.cluster)) throw conflict(`cluster ${vm.cluster} is not configured any more`);
    const students = new Set((deps.access.snapshot().assignmentsOfVm.get(vmKey(vm.cluster, vm.vmid)) ?? []).map((a) => a.userId));
    // Someone else's VM (a student's, seen by their teacher): watch unless control is asked for.
    const watching = students.size > 0 && !students.has(user.id);
    const mode: ConsoleMode = watching && !control ? 'view' : 'control';
    const issued = await cons.tokens.issue({ userId: user.id, cluster: vm.cluster, vmid: vm.vmid, mode }, cons.ttlMs);
    const kind = vm.type === 'qemu' ? 'vnc' : 'terminal';
    return c.json({
      kind,
      url: `${CONSOLE_SOCKET_PATH}?token=${issued.token}`,
      ...(kind === 'vnc' ? { password: cons.relay.passwordFor(issued.tokenHash) } : {}),
      expiresAt: issued.expiresAt,
      mode,
      vm: { id: vm.id, cluster: vm.cluster, vmid: vm.vmid, name: vm.name, type: vm.type, status: vm.status },
      watchers: cons.relay.watchers(vm.cluster, vm.vmid).filter((w) => w.userId !== user.id).map(({ name, mode: m }) => ({ name, mode: m })),
    } satisfies ConsoleLink);
  });
  return app;
}
