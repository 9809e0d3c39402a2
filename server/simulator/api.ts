// The simulated Proxmox VE API: routes a request to its handler after the steps the real
// server takes (auth, CSRF, parameter verification, node proxying, privileges) and renders
// the answer in PVE's wire format.
import type { IncomingHttpHeaders } from 'node:http';
import { type Authenticator, type Principal, checkPermission, permissionsOf } from './auth.js';
import type { ClusterState, PowerAction } from './cluster.js';
import { PveError, fail, paramError } from './errors.js';
import { agentInterfaces, guestConfig, ipOf, lxcInterfaces, statusCurrent, isUp } from './guest.js';
import { SERVED_ENDPOINTS } from './schema/endpoints.js';
import { type PveSchema, type RawParams, verifyParams } from './schema/validate.js';
import { nodeGuestList } from './node-lists.js';
import { visibleTasks } from './task-list.js';
import { parseUpid } from './tasks.js';
import { ConsoleHub, consoleHandlers } from './console/hub.js';
// A JSON module (not a file read at run time), so the production build carries it in the chunk.
import schemaSubset from './schema/pve-schema-subset.json' with { type: 'json' };
import { lifecycleHandlers } from './api-lifecycle.js';

/** A method definition from the schema subset. */
export interface MethodInfo {
  parameters?: PveSchema;
  returns?: PveSchema;
  permissions?: { check?: unknown[]; user?: string };
  proxyto?: string | null;
}

/** The committed schema subset: path template → method → definition. */
export const SCHEMA: Record<string, Record<string, MethodInfo>> = schemaSubset as Record<string, Record<string, MethodInfo>>;

/** A finished answer: status, reason phrase, and the JSON body (null = empty body, no content type). */
export interface ApiResponse {
  status: number;
  reason: string;
  body: string | Buffer | null;
}

/** What a handler gets: the merged parameters, the caller and the cluster. */
export interface Ctx {
  params: RawParams;
  principal: Principal | null;
  cluster: ClusterState;
}

export type Handler = (ctx: Ctx) => unknown;
/** A handler result that is already a serialised `{"data":...}` body. */
class RawBody {
  constructor(readonly body: Buffer) {}
}

const str = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[v.length - 1] : v);
const int = (v: string | string[] | undefined): number => parseInt(str(v) ?? '', 10);
const bool = (v: string | string[] | undefined): boolean => /^(1|true|yes|on)$/i.test(str(v) ?? '');

const ROUTES = SERVED_ENDPOINTS.map((e) => ({ ...e, segments: e.path.split('/').slice(1) }));

/** Finds the served endpoint for a method and path; returns its template and path parameters. */
export function matchRoute(method: string, path: string): { template: string; params: Record<string, string> } | null {
  const segs = path.split('/').slice(1);
  if (segs.length && segs[segs.length - 1] === '') segs.pop();
  outer: for (const r of ROUTES) {
    if (r.method !== method || r.segments.length !== segs.length) continue;
    const params: Record<string, string> = {};
    for (let i = 0; i < segs.length; i++) {
      const t = r.segments[i];
      if (t.startsWith('{')) {
        let v: string;
        try {
          v = decodeURIComponent(segs[i]);
        } catch {
          continue outer;
        }
        params[t.slice(1, -1)] = v;
      } else if (t !== segs[i]) continue outer;
    }
    return { template: r.path, params };
  }
  return null;
}

function guestOf(ctx: Ctx, kind: 'qemu' | 'lxc') {
  return ctx.cluster.guestOn(str(ctx.params.node)!, int(ctx.params.vmid), kind);
}

const userOf = (ctx: Ctx): string => ctx.principal?.id ?? 'root@pam';

/** Options that shape API behaviour beyond the cluster state. */
export interface ApiOptions {
  /** How long the guest agent takes to report that it is not running (its ping timeout). */
  agentTimeoutMs: number;
  clusterName: string;
  /** The certificate's SHA-256 fingerprint, as GET /nodes reports it (empty without TLS). */
  fingerprint: string;
  /** Whether termproxy accepts a login with an API token's ticket (PVE 9.0.4+; default true). */
  termproxyTokenLogin?: boolean;
}

/** Builds the handler table for one cluster. */
function handlers(opts: ApiOptions, auth: Authenticator): Record<string, Handler> {
  const h: Record<string, Handler> = {
    'GET /version': () => ({ version: '9.0.3', release: '9.0', repoid: '025864202ebb6109', console: 'html5' }),
    'GET /cluster/status': ({ cluster }) => {
      const online = cluster.nodes.filter((n) => n.online).length;
      return [
        { type: 'cluster', id: 'cluster', name: opts.clusterName, nodes: cluster.nodes.length, quorate: online * 2 > cluster.nodes.length ? 1 : 0, version: cluster.nodes.length + 2 },
        ...cluster.nodes.map((n, i) => ({ type: 'node', id: `node/${n.name}`, name: n.name, nodeid: i + 1, ip: `127.10.0.${i + 1}`, online: n.online ? 1 : 0, local: i === 0 ? 1 : 0, level: '' })),
      ];
    },
    'GET /cluster/resources': ({ cluster, params, principal }) =>
      new RawBody(cluster.resourcesBody(str(params.type), principal?.privileges.has('VM.Audit') ?? false)),
    'GET /cluster/tasks': ({ cluster, principal }) =>
      visibleTasks(cluster.tasks.list.entries(cluster.nodes.map((n) => n.name)), principal?.id ?? '', principal?.privileges.has('Sys.Audit') ?? false),
    'GET /cluster/nextid': ({ cluster, params }) => {
      if (params.vmid !== undefined) {
        cluster.assertFree(int(params.vmid));
        return str(params.vmid);
      }
      // PVE answers the id as a string.
      return String(cluster.nextId());
    },
    'GET /nodes': ({ cluster }) => {
      const now = Date.now();
      return cluster.nodes.map((n) => (n.online
        ? { node: n.name, id: `node/${n.name}`, type: 'node', status: 'online', cpu: 0.12, maxcpu: 32, mem: 41 * 1024 ** 3, maxmem: 128 * 1024 ** 3, disk: 12 * 1024 ** 3, maxdisk: 100 * 1024 ** 3, uptime: Math.floor((now - n.bootedAt) / 1000), level: '', ssl_fingerprint: opts.fingerprint }
        : { node: n.name, id: `node/${n.name}`, type: 'node', status: 'offline' }));
    },
    'GET /nodes/{node}/tasks/{upid}/status': ({ cluster, params }) => {
      const upid = str(params.upid)!;
      if (!parseUpid(upid)) throw paramError({ upid: 'unable to parse worker upid' });
      const t = cluster.tasks.get(upid);
      if (!t || t.node !== str(params.node)) throw paramError({ upid: 'no such task' });
      return { ...t };
    },
    'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces': async (ctx) => {
      const g = guestOf(ctx, 'qemu');
      if (!g.agent) throw fail('No QEMU guest agent configured');
      if (!isUp(g)) throw fail(`VM ${g.vmid} is not running`);
      const ip = ipOf(g, Date.now(), ctx.cluster.settings.ipDelayMs);
      if (!ip) {
        // The agent ping times out before PVE gives up; a booting guest costs the caller this wait.
        if (opts.agentTimeoutMs > 0) await new Promise((r) => setTimeout(r, opts.agentTimeoutMs));
        throw fail('QEMU guest agent is not running');
      }
      return agentInterfaces(g, ip);
    },
    'GET /nodes/{node}/lxc/{vmid}/interfaces': (ctx) => {
      const g = guestOf(ctx, 'lxc');
      if (g.status !== 'running') return null;
      return lxcInterfaces(g, ipOf(g, Date.now(), ctx.cluster.settings.ipDelayMs));
    },
    'POST /access/ticket': ({ params }) => auth.login(str(params.username)!, str(params.password)!, str(params.realm)),
    'GET /access/ticket': () => null,
    'GET /access/users': ({ params, principal }) => {
      const full = bool(params.full);
      const seeAll = principal!.privileges.has('User.Modify') || principal!.privileges.has('Sys.Audit');
      const rows = [...auth.users.values()].filter((u) => seeAll || u.userid === principal!.userid).map((u) => ({
        userid: u.userid, enable: 1, expire: 0, 'realm-type': u.userid.split('@')[1],
        ...(full ? { groups: u.groups.join(','), tokens: [] as unknown[] } : {}),
      }));
      const tokenUser = auth.tokenId.slice(0, auth.tokenId.indexOf('!'));
      if (!auth.users.has(tokenUser) && (seeAll || principal!.userid === tokenUser)) {
        rows.push({ userid: tokenUser, enable: 1, expire: 0, 'realm-type': tokenUser.split('@')[1], ...(full ? { groups: '', tokens: [{ tokenid: auth.tokenId.split('!')[1], privsep: 1, expire: 0 }] } : {}) });
      }
      return rows.sort((a, b) => (a.userid < b.userid ? -1 : 1));
    },
    'GET /access/users/{userid}': ({ params }) => {
      const u = auth.users.get(str(params.userid)!);
      if (!u) throw fail(`no such user ('${str(params.userid)}')`);
      return { enable: 1, expire: 0, groups: u.groups, tokens: {} };
    },
    'GET /access/permissions': ({ params, principal, cluster }) => {
      const userid = str(params.userid);
      if (userid && userid !== principal!.id && userid !== principal!.userid && !principal!.privileges.has('Sys.Audit')) {
        throw new PveError(403, `Permission check failed (/access, Sys.Audit)`);
      }
      // Someone else's map (an auditor asking): the token's or that user's privileges.
      const other = userid && userid !== principal!.id ? auth.users.get(userid) : undefined;
      const whose: Principal = userid === auth.tokenId ? { ...principal!, privileges: auth.tokenPrivileges }
        : other ? { ...principal!, privileges: other.privileges } : userid && userid !== principal!.id ? { ...principal!, privileges: new Set() } : principal!;
      const pools = new Map<string, number[]>([...cluster.pools].map((p) => [p, []]));
      for (const g of cluster.guests.values()) if (g.pool) pools.get(g.pool)?.push(g.vmid);
      return permissionsOf(whose, str(params.path), pools);
    },
  };
  for (const kind of ['qemu', 'lxc'] as const) {
    const base = `/nodes/{node}/${kind}/{vmid}`;
    h[`GET /nodes/{node}/${kind}`] = ({ cluster, params, principal }) => {
      // Answered by the node from live process state (vmstatus), only guests the caller may audit.
      if (!principal?.privileges.has('VM.Audit')) return [];
      return nodeGuestList(cluster.guests.values(), str(params.node)!, kind, Date.now(), bool(params.full));
    };
    h[`GET ${base}/status/current`] = (ctx) => statusCurrent(guestOf(ctx, kind), Date.now());
    h[`GET ${base}/config`] = (ctx) => guestConfig(guestOf(ctx, kind));
    for (const action of ['start', 'stop', 'shutdown', 'reboot', 'suspend', 'resume', 'reset'] as PowerAction[]) {
      h[`POST ${base}/status/${action}`] = (ctx) =>
        ctx.cluster.power(guestOf(ctx, kind), action, userOf(ctx), { skiplock: bool(ctx.params.skiplock), forceStop: bool(ctx.params.forceStop) });
    }
    Object.assign(h, lifecycleHandlers(kind));
  }
  return h;
}

/** Renders an error the way pve-http-server does: reason = first line, body with message and errors. */
export function errorResponse(e: PveError): ApiResponse {
  const text = e.message.endsWith('\n') ? e.message : `${e.message}\n`;
  if (e.status === 401) return { status: 401, reason: firstLine(text), body: null };
  const body: Record<string, unknown> = { data: null, message: text };
  if (e.errors) body.errors = e.errors;
  return { status: e.status, reason: firstLine(text), body: JSON.stringify(body) };
}

function firstLine(text: string): string {
  // A reason phrase is one line of printable characters.
  return text.split('\n')[0].replace(/[^\t\x20-\x7e]/g, '?');
}

/** One cluster's API, ready to answer parsed requests. */
export class PveApi {
  private readonly table: Record<string, Handler>;
  /** vncproxy/termproxy/vncwebsocket and what sits behind them (server/simulator/console). */
  readonly consoles: ConsoleHub;

  constructor(
    readonly cluster: ClusterState,
    readonly auth: Authenticator,
    opts: ApiOptions,
  ) {
    this.consoles = new ConsoleHub(cluster, opts.termproxyTokenLogin ?? true);
    this.table = { ...handlers(opts, auth), ...consoleHandlers(this.consoles) };
  }

  /** Answers one request. `path` is relative to /api2/json, `params` merges query and body. */
  async handle(method: string, path: string, headers: IncomingHttpHeaders, params: RawParams, tokenRevoked: boolean): Promise<ApiResponse> {
    try {
      const route = matchRoute(method, path);
      const info = route ? SCHEMA[route.template]?.[method] : undefined;
      let principal: Principal | null = null;
      if (info?.permissions?.user !== 'world') principal = this.auth.authenticate(headers, method, tokenRevoked);
      if (!route || !info) throw new PveError(501, `Method '${method} ${path}' not implemented`);
      const all: RawParams = { ...params, ...route.params };
      const errors = verifyParams(info.parameters ?? {}, all);
      if (errors) throw paramError(errors);
      if (info.proxyto === 'node') {
        const node = str(all.node)!;
        if (!this.cluster.isNode(node)) throw fail(`hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`);
        if (!this.cluster.isOnline(node)) throw new PveError(595, 'No route to host');
      }
      if (principal) checkPermission(info.permissions, principal, all);
      const data = await this.table[`${method} ${route.template}`]({ params: all, principal, cluster: this.cluster });
      if (data instanceof RawBody) return { status: 200, reason: 'OK', body: data.body };
      return { status: 200, reason: 'OK', body: JSON.stringify({ data: data ?? null }) };
    } catch (e) {
      if (e instanceof PveError) return errorResponse(e);
      const msg = e instanceof Error ? e.message : String(e);
      return errorResponse(fail(msg));
    }
  }
}
