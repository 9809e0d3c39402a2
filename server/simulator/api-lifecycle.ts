// The simulated API's guest lifecycle routes (clone, destroy, snapshots, rollback, config
// updates) for qemu and LXC: parameter plumbing only; the behaviour lives in lifecycle.ts.
import type { Handler, Ctx } from './api.js';
import { cloneGuest, destroyGuest, listSnapshots, rollbackGuest, takeSnapshot, updateConfig } from './lifecycle.js';
import type { RawParams } from './schema/validate.js';

const str = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[v.length - 1] : v);
const int = (v: string | string[] | undefined): number => parseInt(str(v) ?? '', 10);
const bool = (v: string | string[] | undefined): boolean => /^(1|true|yes|on)$/i.test(str(v) ?? '');
const optBool = (v: string | string[] | undefined): boolean | undefined => (v === undefined ? undefined : bool(v));
const userOf = (ctx: Ctx): string => ctx.principal?.id ?? 'root@pam';

function flat(params: RawParams): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(params)) out[k] = str(v);
  return out;
}

/** Handlers keyed like the API table ('METHOD /path/template') for one guest kind. */
export function lifecycleHandlers(kind: 'qemu' | 'lxc'): Record<string, Handler> {
  const base = `/nodes/{node}/${kind}/{vmid}`;
  const guestOf = (ctx: Ctx) => ctx.cluster.guestOn(str(ctx.params.node)!, int(ctx.params.vmid), kind);
  const h: Record<string, Handler> = {
    [`DELETE ${base}`]: (ctx) => destroyGuest(ctx.cluster, guestOf(ctx), userOf(ctx), { skiplock: bool(ctx.params.skiplock), purge: bool(ctx.params.purge) }),
    [`POST ${base}/clone`]: (ctx) => cloneGuest(ctx.cluster, guestOf(ctx), {
      newid: int(ctx.params.newid), name: str(kind === 'qemu' ? ctx.params.name : ctx.params.hostname), target: str(ctx.params.target),
      pool: str(ctx.params.pool), full: optBool(ctx.params.full), snapname: str(ctx.params.snapname), storage: str(ctx.params.storage),
      description: str(ctx.params.description),
    }, userOf(ctx)),
    [`GET ${base}/snapshot`]: (ctx) => listSnapshots(guestOf(ctx)),
    [`POST ${base}/snapshot`]: (ctx) => takeSnapshot(ctx.cluster, guestOf(ctx), str(ctx.params.snapname)!, userOf(ctx), str(ctx.params.description)),
    [`POST ${base}/snapshot/{snapname}/rollback`]: (ctx) => rollbackGuest(ctx.cluster, guestOf(ctx), str(ctx.params.snapname)!, bool(ctx.params.start), userOf(ctx)),
    [`PUT ${base}/config`]: (ctx) => updateConfig(ctx.cluster, guestOf(ctx), flat(ctx.params), userOf(ctx), false),
  };
  if (kind === 'qemu') h[`POST ${base}/config`] = (ctx) => updateConfig(ctx.cluster, guestOf(ctx), flat(ctx.params), userOf(ctx), true);
  return h;
}
