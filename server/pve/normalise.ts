// Lenient readers for what Proxmox answers: numbers as strings, 0/1 booleans, missing optional
// fields, `status:"unknown"` stubs without a name, ';'-separated tags, qemu and lxc alike.
import * as v from 'valibot';
import type { IpReason, VmStatus, VmType } from '../../contract/vm.js';

/** Proxmox's guest types (the contract's VmType). */
export type GuestType = VmType;

/** Longest guest name labdeck keeps (Proxmox allows DNS names; anything longer is not one). */
export const MAX_NAME_LENGTH = 128;
const PLAIN_NAME = /^[!-~]+(?: [!-~]+)*$/;

/**
 * A guest name as labdeck stores it: control characters (CR, LF, tab, NUL…), line and paragraph
 * separators and bidirectional overrides removed, spaces collapsed, at most 128 characters; null
 * when nothing is left. Proxmox restricts names, but labdeck does not rely on it: a name ends up
 * in .rdp files, logs and page titles (pure).
 */
export function cleanName(raw: string | null | undefined): string | null {
  if (typeof raw !== 'string') return null;
  // Nearly every name (a DNS name): printable ASCII words, single spaces, short. It is its own
  // clean form; checked without making a string, since every guest's name passes here every pass.
  if (raw.length <= MAX_NAME_LENGTH && PLAIN_NAME.test(raw)) return raw;
  const s = raw.replace(/[\p{Cc}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+/gu, ' ').replace(/\s+/g, ' ').trim();
  return s ? [...s].slice(0, MAX_NAME_LENGTH).join('') : null;
}

/** A guest as /cluster/resources lists it, normalised. `name` is null for a not-yet-broadcast stub. */
export interface ResourceRow {
  vmid: number;
  type: GuestType;
  node: string;
  name: string | null;
  status: VmStatus;
  template: boolean;
  /** Seconds, null when not reported. */
  uptime: number | null;
  /** Fraction of its cores, 0..1. */
  cpu: number | null;
  maxcpu: number | null;
  mem: number | null;
  maxmem: number | null;
  maxdisk: number | null;
  tags: readonly string[];
  pool: string | null;
  lock: string | null;
}

/** The live state from status/current. */
export interface LiveStatus {
  status: VmStatus;
  uptime: number | null;
  cpu: number | null;
  cpus: number | null;
  mem: number | null;
  maxmem: number | null;
  name: string | null;
  agent: boolean;
  lock: string | null;
}

/** What a guest's config tells labdeck. */
export interface GuestConfig {
  mac: string | null;
  ostype: string | null;
  agent: boolean;
  cores: number | null;
  /** Bytes. */
  memory: number | null;
  name: string | null;
}

export interface GuestAddress { ip: string | null; reason: IpReason | null }

const finite = v.check((x: number) => Number.isFinite(x), 'must be a number');
/** A number that Perl may have sent as a string. */
const Num = v.pipe(v.union([v.number(), v.pipe(v.string(), v.trim(), v.nonEmpty(), v.transform(Number))]), finite);
const OptNum = v.optional(v.nullable(Num), null);
/** 0/1, "0"/"1" or a real boolean. */
const Bool = v.pipe(v.union([v.number(), v.string(), v.boolean()]), v.transform((x) => x === true || x === 1 || x === '1' || x === 'true'));
const OptStr = v.optional(v.nullable(v.pipe(v.union([v.string(), v.number()]), v.transform(String))), null);

/** Maps Proxmox (and QMP) status words onto labdeck's VmStatus. */
export function normaliseStatus(raw: string | null | undefined): VmStatus {
  // As Proxmox sends them, without a lower-cased copy of every guest's status on every read.
  if (raw === 'running' || raw === 'stopped') return raw;
  switch ((raw ?? '').toLowerCase()) {
    case 'running': return 'running';
    case 'stopped': case 'shutdown': return 'stopped';
    case 'suspended': return 'suspended';
    case 'paused': case 'prelaunch': case 'io-error': case 'inmigrate': case 'postmigrate':
    case 'finish-migrate': case 'save-vm': case 'restore-vm': case 'debug': case 'watchdog':
      return 'paused';
    default: return 'unknown';
  }
}

/** Splits Proxmox tags ("a;b", also ',' or ' ' separated), trimmed, unique and sorted. */
export function parseTags(raw: string | null | undefined): string[] {
  if (!raw) return [];
  return [...new Set(raw.split(/[;, ]+/).map((t) => t.trim()).filter(Boolean))].sort();
}

// A classroom has a handful of distinct tag strings shared by thousands of guests.
const tagCache = new Map<string, readonly string[]>();
const TAG_CACHE_MAX = 2_000;

/** parseTags for the hot path: the same (frozen) list for the same raw string. */
function cachedTags(raw: string | null): readonly string[] {
  if (!raw) return [];
  let tags = tagCache.get(raw);
  if (!tags) {
    if (tagCache.size >= TAG_CACHE_MAX) tagCache.clear();
    tags = Object.freeze(parseTags(raw));
    tagCache.set(raw, tags);
  }
  return tags;
}

/** A number Perl may have sent as a string; null when absent or unreadable. */
function num(x: unknown): number | null {
  if (typeof x === 'number') return Number.isFinite(x) ? x : null;
  if (typeof x !== 'string') return null;
  const t = x.trim();
  if (!t) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** 0/1, "0"/"1", "true" or a real boolean; anything else is false. */
const flag = (x: unknown): boolean => x === true || x === 1 || x === '1' || x === 'true';

/** A string (or a number Perl sent for one); null when absent, empty or of another kind. */
function text(x: unknown): string | null {
  if (typeof x === 'string') return x || null;
  if (typeof x === 'number' && Number.isFinite(x)) return String(x);
  return null;
}

/** One entry as read: a guest row, not a guest at all, or a guest entry that is malformed (and why). */
export type ResourceEntry =
  | { kind: 'guest'; row: ResourceRow }
  | { kind: 'node'; name: string; online: boolean }
  | { kind: 'other' }
  | { kind: 'malformed'; vmid: number | null; reason: string };

/**
 * Reads one /cluster/resources entry by hand: this runs for every guest of every cluster on every
 * pass, where a schema library's per-row cost dominated. Lenient about optional fields (an
 * unreadable number is null), strict about identity: a guest entry without a usable type, vmid
 * or node is malformed, with the reason.
 */
export function readResourceEntry(raw: unknown): ResourceEntry {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { kind: 'other' };
  const x = raw as Record<string, unknown>;
  const id = typeof x.id === 'string' ? x.id : undefined;
  const slash = id ? id.indexOf('/') : -1;
  const rawType = typeof x.type === 'string' ? x.type : slash > 0 ? id!.slice(0, slash) : undefined;
  if (rawType === 'node') {
    // pvestatd's view of the node: "online", "offline" or "unknown" (not yet seen since pmxcfs started).
    const name = typeof x.node === 'string' && x.node ? x.node : slash > 0 ? id!.slice(slash + 1) : '';
    return name ? { kind: 'node', name, online: x.status === 'online' } : { kind: 'other' };
  }
  if (rawType !== 'qemu' && rawType !== 'lxc') return { kind: 'other' };
  const vmid = x.vmid !== undefined && x.vmid !== null ? num(x.vmid) : slash > 0 ? num(id!.slice(slash + 1)) : null;
  if (vmid === null || !Number.isInteger(vmid) || vmid < 1) {
    return { kind: 'malformed', vmid: null, reason: `${rawType} entry ${JSON.stringify(id ?? x.vmid ?? null)}: no usable vmid` };
  }
  if (typeof x.node !== 'string' || !x.node) return { kind: 'malformed', vmid, reason: `${rawType} ${vmid}: no node` };
  const name = cleanName(typeof x.name === 'string' ? x.name : text(x.name));
  return {
    kind: 'guest',
    row: {
      vmid, type: rawType, node: x.node, name,
      status: normaliseStatus(typeof x.status === 'string' ? x.status : 'unknown'),
      template: flag(x.template),
      uptime: num(x.uptime), cpu: num(x.cpu), maxcpu: num(x.maxcpu), mem: num(x.mem), maxmem: num(x.maxmem), maxdisk: num(x.maxdisk),
      tags: cachedTags(text(x.tags)),
      pool: text(x.pool),
      lock: text(x.lock),
    },
  };
}

/** Normalises one /cluster/resources entry; null for entries that are not guests or are unreadable. */
export function normaliseResource(raw: unknown): ResourceRow | null {
  const e = readResourceEntry(raw);
  return e.kind === 'guest' ? e.row : null;
}

/** The whole /cluster/resources answer, normalised: guests, the guest entries skipped as malformed, and the nodes. */
export interface ResourceList {
  rows: ResourceRow[];
  skipped: number;
  /** vmids of skipped entries where one could be read: a full pass must not take them for destroyed. */
  skippedVmids: number[];
  /** Why the first skipped entry was skipped (for the log), null when none was. */
  firstSkipReason: string | null;
  /** The cluster's nodes, when the answer listed them (a call without `type=vm` does). */
  nodes: Array<{ name: string; online: boolean }>;
}

/** Normalises the whole /cluster/resources answer; throws when it is not a list. */
export function normaliseResources(raw: unknown): ResourceList {
  if (!Array.isArray(raw)) throw new TypeError('cluster/resources did not answer a list');
  const rows: ResourceRow[] = [];
  const skippedVmids: number[] = [];
  let skipped = 0;
  let firstSkipReason: string | null = null;
  const nodes: Array<{ name: string; online: boolean }> = [];
  for (let i = 0; i < raw.length; i++) {
    const e = readResourceEntry(raw[i]);
    if (e.kind === 'guest') rows.push(e.row);
    else if (e.kind === 'node') nodes.push({ name: e.name, online: e.online });
    else if (e.kind === 'malformed') {
      skipped++;
      if (e.vmid !== null) skippedVmids.push(e.vmid);
      firstSkipReason ??= e.reason;
    }
  }
  return { rows, skipped, skippedVmids, firstSkipReason, nodes };
}

const StatusSchema = v.looseObject({
  status: v.optional(v.string(), 'unknown'),
  qmpstatus: v.optional(v.string()),
  uptime: OptNum,
  cpu: OptNum,
  cpus: OptNum,
  mem: OptNum,
  maxmem: OptNum,
  name: OptStr,
  agent: v.optional(Bool, false),
  lock: OptStr,
});

/** Normalises status/current; a running VM's QMP status (e.g. paused) wins over "running". */
export function normaliseStatusCurrent(raw: unknown): LiveStatus {
  const x = v.parse(StatusSchema, raw);
  const status = x.status === 'running' && x.qmpstatus ? normaliseStatus(x.qmpstatus) : normaliseStatus(x.status);
  return {
    status, uptime: x.uptime, cpu: x.cpu, cpus: x.cpus, mem: x.mem, maxmem: x.maxmem,
    name: cleanName(x.name), agent: x.agent, lock: x.lock || null,
  };
}

const MAC = /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/i;

/** The first MAC address of a net0..netN entry (qemu `virtio=MAC,...`, lxc `hwaddr=MAC,...`), upper case. */
export function macFromConfig(config: Record<string, unknown>): string | null {
  const keys = Object.keys(config).filter((k) => /^net\d+$/.test(k)).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  for (const k of keys) {
    const m = MAC.exec(String(config[k]));
    if (m) return m[1].toUpperCase();
  }
  return null;
}

/** Whether a qemu `agent` option enables the agent ("1", 1, "enabled=1,fstrim_cloned_disks=1"). */
export function agentEnabled(raw: unknown): boolean {
  if (raw === 1 || raw === true) return true;
  if (typeof raw !== 'string') return false;
  const first = raw.split(',')[0].trim();
  if (first === '1') return true;
  const m = /(?:^|,)\s*enabled=(\d)/.exec(raw);
  return m ? m[1] === '1' : false;
}

/** Normalises a qemu or lxc config answer. Memory in config is MiB (sometimes a string). */
export function normaliseConfig(raw: unknown): GuestConfig {
  if (!raw || typeof raw !== 'object') throw new TypeError('config is not an object');
  const c = raw as Record<string, unknown>;
  const n = (x: unknown): number | null => {
    const r = v.safeParse(Num, x);
    return r.success ? r.output : null;
  };
  const cores = n(c.cores);
  const sockets = n(c.sockets) ?? 1;
  const memMiB = n(c.memory);
  return {
    mac: macFromConfig(c),
    ostype: typeof c.ostype === 'string' && c.ostype ? c.ostype : null,
    agent: agentEnabled(c.agent),
    cores: cores === null ? null : cores * sockets,
    memory: memMiB === null ? null : memMiB * 1024 * 1024,
    name: cleanName(typeof c.name === 'string' ? c.name : typeof c.hostname === 'string' ? c.hostname : null),
  };
}

/** windows / linux / lxc / unknown from guest type and ostype (win10, l26, ...). */
export function categoryOf(type: GuestType, ostype: string | null): 'windows' | 'linux' | 'lxc' | 'unknown' {
  if (type === 'lxc') return 'lxc';
  if (!ostype) return 'unknown';
  if (/^w/i.test(ostype)) return 'windows';
  if (/^l\d/i.test(ostype)) return 'linux';
  return 'unknown';
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** A usable guest address: IPv4, not loopback 127.0.0.1 itself, not link-local, not unspecified. */
export function usableIpv4(ip: string): boolean {
  const m = IPV4.exec(ip);
  if (!m || m.slice(1).some((p) => Number(p) > 255)) return false;
  return ip !== '127.0.0.1' && ip !== '0.0.0.0' && !ip.startsWith('169.254.');
}

const AgentIfaces = v.looseObject({
  result: v.optional(v.array(v.looseObject({
    name: v.optional(v.string(), ''),
    'ip-addresses': v.optional(v.nullable(v.array(v.looseObject({
      'ip-address-type': v.optional(v.string(), ''),
      'ip-address': v.optional(v.string(), ''),
    })))),
  })), []),
});

/** First usable IPv4 from the guest agent's network-get-interfaces answer. */
export function ipFromAgent(raw: unknown): string | null {
  const r = v.safeParse(AgentIfaces, raw);
  if (!r.success) return null;
  for (const iface of r.output.result) {
    if (iface.name === 'lo') continue;
    for (const a of iface['ip-addresses'] ?? []) {
      if (a['ip-address-type'].toLowerCase() === 'ipv4' && usableIpv4(a['ip-address'])) return a['ip-address'];
    }
  }
  return null;
}

const LxcIfaces = v.array(v.looseObject({
  name: v.optional(v.string(), ''),
  inet: v.optional(v.nullable(v.string())),
  'ip-addresses': v.optional(v.nullable(v.array(v.looseObject({
    'ip-address-type': v.optional(v.string(), ''),
    'ip-address': v.optional(v.string(), ''),
  })))),
}));

/** First usable IPv4 from LXC interfaces (`inet: "10.0.0.6/24"` or the newer ip-addresses list). */
export function ipFromLxc(raw: unknown): string | null {
  const r = v.safeParse(LxcIfaces, raw);
  if (!r.success) return null;
  for (const iface of r.output) {
    if (iface.name === 'lo') continue;
    const candidates = [
      ...(iface.inet ? iface.inet.split(/[ ,]+/) : []),
      ...(iface['ip-addresses'] ?? []).filter((a) => /^(inet|ipv4)$/i.test(a['ip-address-type'])).map((a) => a['ip-address']),
    ];
    for (const c of candidates) {
      const ip = c.split('/')[0].trim();
      if (usableIpv4(ip)) return ip;
    }
  }
  return null;
}

const UPID = /^UPID:[^:]+:[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,}:[0-9A-Fa-f]{8}:[^:]*:[^:]*:[^:]*:$/;

/** Reads a task id; throws when the answer is not one. */
export function parseUpid(raw: unknown): string {
  if (typeof raw !== 'string' || !UPID.test(raw)) throw new TypeError('answer is not a task id (UPID)');
  return raw;
}

const TaskSchema = v.looseObject({
  status: v.picklist(['running', 'stopped']),
  exitstatus: v.optional(v.nullable(v.string())),
});

/** Normalises a task status answer. */
export function normaliseTaskStatus(raw: unknown): { status: 'running' | 'stopped'; exitstatus?: string } {
  const x = v.parse(TaskSchema, raw);
  return x.exitstatus ? { status: x.status, exitstatus: x.exitstatus } : { status: x.status };
}

const TicketSchema = v.looseObject({ username: v.string(), ticket: v.string(), CSRFPreventionToken: v.optional(v.string(), '') });

/** Reads the access/ticket answer. */
export function normaliseTicket(raw: unknown): { username: string; ticket: string; csrf: string } {
  const x = v.parse(TicketSchema, raw);
  return { username: x.username, ticket: x.ticket, csrf: x.CSRFPreventionToken };
}

/** Groups of an access/users/{userid} answer: a list, or a comma string on old versions. */
export function groupsOfUser(raw: unknown): string[] {
  if (!raw || typeof raw !== 'object') return [];
  const g = (raw as { groups?: unknown }).groups;
  if (Array.isArray(g)) return g.filter((x): x is string => typeof x === 'string' && x.length > 0);
  if (typeof g === 'string') return g.split(',').map((x) => x.trim()).filter(Boolean);
  return [];
}
