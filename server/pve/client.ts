// One client per configured cluster: proxmox-api's typed paths (paths.ts) over our own HTTP layer (http.ts),
// answers normalised (normalise.ts), every failure a PveError.
import type { PveCalls } from './http.js';
import type { PowerAction } from '../../contract/vm.js';
import type { Proxmox } from 'proxmox-api';
import type { ClusterConfig } from '../config.js';
import { PveError, pveReasonMatches } from './errors.js';
import { PveHttp } from './http.js';
import { LastAnswer } from './last-answer.js';
import { typedPaths } from './paths.js';
import type { LatencySummary } from './latency.js';
import {
  ipFromAgent, ipFromLxc, normaliseConfig, normaliseResources, normaliseStatusCurrent, normaliseTaskStatus,
  normaliseTicket, groupsOfUser, parseUpid,
  type GuestAddress, type GuestConfig, type GuestType, type LiveStatus, type ResourceList, type ResourceRow,
} from './normalise.js';

import { NodeGuestColumns, normaliseNodeGuests, normaliseTaskList, type TaskEntry } from './signals.js';
import { scanNodeGuests } from './node-list-scan.js';

export type { ResourceRow, LiveStatus, GuestConfig, GuestAddress, GuestType } from './normalise.js';
export type { NodeGuest, TaskEntry } from './signals.js';
export { NodeGuestColumns } from './signals.js';

/** One /cluster/tasks answer; `unchanged` when it was byte for byte the previous one (same `tasks`). */
export interface TaskListSnapshot {
  readonly tasks: readonly TaskEntry[];
  readonly unchanged: boolean;
}

/** One /cluster/resources answer as a pass uses it. */
export interface ResourceSnapshot {
  readonly rows: readonly ResourceRow[];
  /** Guest entries skipped as malformed, the vmids among them that could be read, and why the first was. */
  readonly skipped: number;
  /** The cluster's nodes and whether pvestatd sees them online. */
  readonly nodes: ReadonlyArray<{ name: string; online: boolean }>;
  readonly skippedVmids: readonly number[];
  readonly firstSkipReason: string | null;
  /** True when the answer was byte for byte the previous one. */
  readonly unchanged: boolean;
  /** Which decoding of an answer `rows` are: the same number, the same objects (reads close together reuse them). */
  readonly decoding: number;
}
/** labdeck's power actions plus the two more Proxmox offers. */
export type PveAction = PowerAction | 'suspend' | 'resume';

export interface PveClient {
  readonly cluster: string;
  /** Every guest of the cluster in one call (`GET /cluster/resources`, nodes included), normalised. */
  resources(): Promise<ResourceRow[]>;
  /**
   * The same call for the sync passes: an answer identical to the previous one is recognised from
   * its bytes and not parsed again. Callers must treat the rows as read-only (they are shared).
   */
  resourceSnapshot(): Promise<ResourceSnapshot>;
  /** The cluster's recent tasks (`GET /cluster/tasks`): live at every task start and end. */
  tasks(): Promise<TaskListSnapshot>;
  /** A node's guests of one type from live process state (`GET /nodes/{node}/qemu|lxc`), read into `into` when given. */
  nodeGuests(node: string, type: GuestType, into?: NodeGuestColumns): Promise<NodeGuestColumns>;
  /** Live status of one guest. */
  statusCurrent(node: string, type: GuestType, vmid: number): Promise<LiveStatus>;
  /** MAC, ostype, agent flag, cores and memory from the guest's config. */
  guestConfig(node: string, type: GuestType, vmid: number): Promise<GuestConfig>;
  /** IPv4 from the guest agent (qemu) or the container's interfaces (lxc), or why there is none. */
  guestAddress(node: string, type: GuestType, vmid: number): Promise<GuestAddress>;
  /** Sends a power action once (never re-sent) and returns its task id (UPID). */
  power(node: string, type: GuestType, vmid: number, action: PveAction): Promise<string>;
  /** Status of a task. */
  taskStatus(node: string, upid: string): Promise<{ status: 'running' | 'stopped'; exitstatus?: string }>;
  /** Checks Proxmox credentials by ticket login; null when they are wrong. */
  verifyLogin(username: string, password: string, realm: string): Promise<{ userid: string; groups: string[] } | null>;
  /** Latency of recent calls to this cluster. */
  latency(): LatencySummary;
  /** Requests sent since the client was made. */
  requestCount(): number;
  close(): Promise<void>;
}

/** Wraps a thrown non-PveError (a validation failure of an answer) as an invalid-response PveError. */
async function answer<T>(cluster: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PveError) throw err;
    throw new PveError(cluster, 200, `unreadable answer to ${what}: ${(err as Error).message}`, 'invalid-response');
  }
}

/**
 * A decoded answer is kept for the next read only when reads come closer together than this:
 * pvestatd renews /cluster/resources every 10 s, so slower reads never see the same bytes twice.
 */
const KEEP_DECODED_MS = 12_000;

/** Makes the client for one configured cluster. */
export function createPveClient(cluster: ClusterConfig, calls?: PveCalls): PveClient {
  const base = {
    cluster: cluster.id,
    url: cluster.url,
    auth: { kind: 'token', tokenId: cluster.tokenId, tokenSecret: cluster.tokenSecret },
    timeoutMs: cluster.timeoutMs,
    verifyTls: cluster.verifyTls,
    calls,
  } as const;
  const http = new PveHttp(base);
  // The live signals' reads (the task list every 2 s, the node lists every 4 s) on one connection
  // of their own: the task list keeps it warm, so a sweep finds it open (on the shared pool a
  // sweep's lists found only the task list's connection alive and opened new ones every sweep).
  // Spoken directly on the socket, not through undici: these are most of labdeck's requests at
  // idle, and undici's per-request objects were most of its garbage (one-connection.ts).
  const signalHttp = new PveHttp({ ...base, oneConnection: true, writeDispatcher: http.writeDispatcher, latency: http.latency });
  // The snapshot (~650 kB at 2,000 guests, every quick pass) the same way on a connection of its
  // own, so the signals never wait behind it; read into two buffers taking turns instead of a
  // fresh one per answer (each fresh one counted as old-generation memory, see BodyScratch).
  const snapshotHttp = new PveHttp({ ...base, oneConnection: true, writeDispatcher: http.writeDispatcher, latency: http.latency });
  const api: Proxmox.Api = typedPaths(http);
  const id = cluster.id;
  const guest = (node: string, type: GuestType, vmid: number) =>
    type === 'qemu' ? api.nodes.$(node).qemu.$(vmid) : api.nodes.$(node).lxc.$(vmid);
  // The last answer's bytes and what they said. pvestatd refreshes every 10 s, so passes closer
  // together than that mostly see the same bytes; comparing them (memcmp, well under a millisecond
  // for thousands of guests) is far cheaper than hashing, let alone parsing, them.
  // Kept decoded only for passes closer together than pvestatd renews the answer (10 s).
  const snapshots = new LastAnswer<ResourceList>(KEEP_DECODED_MS);
  const resourceSnapshot = (): Promise<ResourceSnapshot> => answer(id, 'cluster/resources', async () => {
    // Without `type=vm`: the node rows come in the same call (a few more bytes), and a guest of an
    // offline node, listed as a nameless "unknown" stub, can then be told apart from one not yet seen.
    const { value, unchanged, decoding } = await snapshots.read(
      (scratch) => snapshotHttp.getRaw('/api2/json/cluster/resources', undefined, scratch),
      (body) => normaliseResources(snapshotHttp.parse(body)));
    return { ...value, unchanged, decoding };
  });

  // Between tasks the list does not change at all: the same bytes need no parsing.
  const taskLists = new LastAnswer<readonly TaskEntry[]>(KEEP_DECODED_MS);

  return {
    cluster: id,

    resources: async () => [...(await resourceSnapshot()).rows],
    resourceSnapshot,

    tasks: () => answer(id, 'cluster/tasks', async () => {
      const { value, unchanged } = await taskLists.read(
        (scratch) => signalHttp.getRaw('/api2/json/cluster/tasks', undefined, scratch),
        (body) => normaliseTaskList(signalHttp.parse(body)).tasks);
      return { tasks: value, unchanged };
    }),

    // Read from the bytes (only vmid, status, uptime); the ordinary parse only where the scan declines.
    nodeGuests: (node, type, into = new NodeGuestColumns()) => answer(id, `nodes/${node}/${type}`, async () => {
      const body = await signalHttp.getRaw(`/api2/json/nodes/${encodeURIComponent(node)}/${type}`, undefined, into.body);
      return scanNodeGuests(body, into) ? into : NodeGuestColumns.from(normaliseNodeGuests(signalHttp.parse(body), type), into);
    }),

    statusCurrent: (node, type, vmid) => answer(id, 'status/current', async () =>
      normaliseStatusCurrent(await guest(node, type, vmid).status.current.$get() as unknown)),

    guestConfig: (node, type, vmid) => answer(id, 'config', async () =>
      normaliseConfig(await guest(node, type, vmid).config.$get() as unknown)),

    async guestAddress(node, type, vmid) {
      try {
        if (type === 'lxc') {
          const raw = await api.nodes.$(node).lxc.$(vmid).interfaces.$get() as unknown;
          if (raw === null) return { ip: null, reason: 'stopped' };
          const ip = ipFromLxc(raw);
          return { ip, reason: ip ? null : 'no-address' };
        }
        const ip = ipFromAgent(await api.nodes.$(node).qemu.$(vmid).agent['network-get-interfaces'].$get() as unknown);
        return { ip, reason: ip ? null : 'no-address' };
      } catch (err) {
        if (pveReasonMatches(err, /No QEMU guest agent configured/i)) return { ip: null, reason: 'no-agent' };
        if (pveReasonMatches(err, /guest agent is not running/i)) return { ip: null, reason: 'agent-not-running' };
        if (pveReasonMatches(err, /not running/i)) return { ip: null, reason: 'stopped' };
        throw err;
      }
    },

    power: (node, type, vmid, action) => answer(id, `status/${action}`, async () => {
      const status = guest(node, type, vmid).status;
      const raw = await (status as unknown as Record<PveAction, { $post(): Promise<unknown> }>)[action].$post();
      return parseUpid(raw);
    }),

    taskStatus: (node, upid) => answer(id, 'task status', async () =>
      normaliseTaskStatus(await api.nodes.$(node).tasks.$(upid).status.$get() as unknown)),

    async verifyLogin(username, password, realm) {
      const anon = new PveHttp({
        cluster: id, url: cluster.url, auth: { kind: 'none' }, timeoutMs: cluster.timeoutMs,
        verifyTls: cluster.verifyTls, dispatcher: http.dispatcher, writeDispatcher: http.writeDispatcher, latency: http.latency, calls,
      });
      let ticket: ReturnType<typeof normaliseTicket>;
      try {
        const params: Record<string, string> = { username, password };
        if (!username.includes('@')) params.realm = realm;
        ticket = normaliseTicket(await anon.doRequest('POST', '/api2/json/access/ticket', '', params));
      } catch (err) {
        if (err instanceof PveError && err.status === 401) return null;
        if (err instanceof PveError) throw err;
        throw new PveError(id, 200, 'unreadable answer to access/ticket', 'invalid-response');
      }
      const userid = ticket.username;
      // The sync token normally may read users (Sys.Audit); otherwise try as the user, then give up on groups.
      const path = `/api2/json/access/users/${encodeURIComponent(userid)}`;
      try {
        return { userid, groups: groupsOfUser(await http.doRequest('GET', path, '')) };
      } catch {
        const session = new PveHttp({
          cluster: id, url: cluster.url, auth: { kind: 'ticket', ticket: ticket.ticket, csrf: ticket.csrf },
          timeoutMs: cluster.timeoutMs, verifyTls: cluster.verifyTls, dispatcher: http.dispatcher, writeDispatcher: http.writeDispatcher, latency: http.latency, calls,
        });
        try {
          return { userid, groups: groupsOfUser(await session.doRequest('GET', path, '')) };
        } catch {
          return { userid, groups: [] };
        }
      }
    },

    latency: () => http.latency.summary(),
    requestCount: () => http.requests + signalHttp.requests + snapshotHttp.requests,
    close: async () => { await Promise.all([http.close(), signalHttp.close(), snapshotHttp.close()]); },
  };
}
