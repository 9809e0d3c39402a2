// Authentication and privileges as pve-http-server and PVE::RPCEnvironment apply them: API
// tokens, ticket + CSRF token, the 401 reason phrases, and the schema's permission checks.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { PveError } from './errors.js';

/** Every privilege PVE 9 knows: the default set of simulated tokens and users. */
export const ALL_PRIVILEGES: readonly string[] = [
  'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit',
  'Group.Allocate', 'Mapping.Audit', 'Mapping.Modify', 'Mapping.Use', 'Permissions.Modify',
  'Pool.Allocate', 'Pool.Audit', 'Realm.Allocate', 'Realm.AllocateUser',
  'SDN.Allocate', 'SDN.Audit', 'SDN.Use', 'Sys.AccessNetwork', 'Sys.Audit', 'Sys.Console', 'Sys.Incoming',
  'Sys.Modify', 'Sys.PowerMgmt', 'Sys.Syslog', 'User.Modify',
  'VM.Allocate', 'VM.Audit', 'VM.Backup', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Cloudinit',
  'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.Console',
  'VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead', 'VM.GuestAgent.FileSystemMgmt', 'VM.GuestAgent.FileWrite',
  'VM.GuestAgent.Unrestricted', 'VM.Migrate', 'VM.PowerMgmt', 'VM.Replicate', 'VM.Snapshot', 'VM.Snapshot.Rollback',
];

/** Who made a request. */
export interface Principal {
  /** 'user@realm', or 'user@realm!token' for API tokens (as it appears in UPIDs). */
  id: string;
  userid: string;
  kind: 'token' | 'ticket';
  privileges: ReadonlySet<string>;
}

/** A user that can log in with a password. */
export interface AuthUser {
  userid: string;
  password: string;
  groups: string[];
  privileges: ReadonlySet<string>;
}

const TICKET_LIFETIME_S = 7200;
const unauthorized = (reason: string): PveError => new PveError(401, reason);
const hex8 = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');

/** Checks credentials of one cluster and issues tickets. */
export class Authenticator {
  private readonly key = randomBytes(32);

  constructor(
    readonly tokenId: string,
    private readonly tokenSecret: string,
    readonly tokenPrivileges: ReadonlySet<string>,
    readonly users: ReadonlyMap<string, AuthUser>,
  ) {}

  private sign(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64').replace(/=+$/, '');
  }

  /** Identifies the caller of a request, or throws the 401 PVE would answer. */
  authenticate(headers: IncomingHttpHeaders, method: string, tokenRevoked: boolean): Principal {
    const auth = headers.authorization;
    if (auth && /^PVEAPIToken[= ]/.test(auth)) {
      const value = auth.slice('PVEAPIToken='.length);
      const cut = value.lastIndexOf('=');
      const id = cut > 0 ? value.slice(0, cut) : '';
      const secret = cut > 0 ? value.slice(cut + 1) : '';
      if (tokenRevoked || id !== this.tokenId || !safeEqual(secret, this.tokenSecret)) throw unauthorized('Authentication failed!');
      return { id, userid: id.slice(0, id.indexOf('!')), kind: 'token', privileges: this.tokenPrivileges };
    }
    const ticket = cookieValue(headers.cookie, 'PVEAuthCookie') ?? (auth?.startsWith('PVEAuthCookie=') ? auth.slice(14) : undefined);
    if (!ticket) throw unauthorized('No ticket');
    const userid = this.verifyTicket(ticket);
    const user = userid ? this.users.get(userid) : undefined;
    if (!user) throw unauthorized('Authentication failed!');
    if (method !== 'GET' && method !== 'HEAD') {
      const csrf = headers.csrfpreventiontoken;
      if (typeof csrf !== 'string' || !this.verifyCsrf(csrf, userid!)) throw unauthorized('Permission denied - invalid csrf token');
    }
    return { id: user.userid, userid: user.userid, kind: 'ticket', privileges: user.privileges };
  }

  /** The user a ticket was issued to, or null when it is forged or expired. */
  verifyTicket(ticket: string): string | null {
    const m = /^PVE:([^:]+):([0-9A-F]{8})::(.+)$/.exec(ticket);
    if (!m) return null;
    if (!safeEqual(m[3], this.sign(`PVE:${m[1]}:${m[2]}`))) return null;
    const age = Date.now() / 1000 - parseInt(m[2], 16);
    return age > -300 && age < TICKET_LIFETIME_S ? m[1] : null;
  }

  private verifyCsrf(token: string, userid: string): boolean {
    const m = /^([0-9A-F]{8}):(.+)$/.exec(token);
    if (!m) return false;
    const age = Date.now() / 1000 - parseInt(m[1], 16);
    return age > -300 && age < TICKET_LIFETIME_S && safeEqual(m[2], this.sign(`${m[1]}:${userid}`));
  }

  /** POST /access/ticket: a password (or a valid ticket of the same user) for a new ticket. */
  login(username: string, password: string, realm?: string): Record<string, unknown> {
    const userid = realm && !username.includes('@') ? `${username}@${realm}` : username;
    const user = this.users.get(userid);
    const ok = user && (safeEqual(password, user.password) || this.verifyTicket(password) === userid);
    // Like PVE: one message whatever was wrong, so that user names cannot be enumerated.
    if (!ok) throw unauthorized('authentication failure');
    const stamp = hex8(Math.floor(Date.now() / 1000));
    const ticket = `PVE:${userid}:${stamp}::${this.sign(`PVE:${userid}:${stamp}`)}`;
    return { username: userid, ticket, CSRFPreventionToken: `${stamp}:${this.sign(`${stamp}:${userid}`)}`, cap: capabilities(user.privileges) };
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return undefined;
}

/** The `cap` object of a ticket answer: privileges grouped the way the PVE GUI reads them. */
function capabilities(privs: ReadonlySet<string>): Record<string, Record<string, number>> {
  const groups: Record<string, string[]> = { vms: ['VM.'], storage: ['Datastore.'], access: ['User.', 'Group.', 'Permissions.', 'Realm.'], nodes: ['Sys.'], dc: ['Sys.Audit', 'SDN.'], sdn: ['SDN.'], mapping: ['Mapping.'] };
  const cap: Record<string, Record<string, number>> = {};
  for (const [g, prefixes] of Object.entries(groups)) {
    cap[g] = {};
    for (const p of privs) if (prefixes.some((x) => p.startsWith(x))) cap[g][p] = 1;
  }
  return cap;
}

/**
 * GET /access/permissions as PVE::RPCEnvironment::get_effective_permissions answers it: the
 * top-level paths, each pool and its members' paths, each with the privileges effective there
 * (the simulated roles sit on '/' and propagate, so every path carries the same map); paths
 * without any privilege are left out. With `path`: that path only, or {} when nothing applies.
 */
export function permissionsOf(p: Principal, path?: string, pools: ReadonlyMap<string, readonly number[]> = new Map()): Record<string, Record<string, number>> {
  // The value is the propagate flag: a role given on '/' propagates.
  const map = Object.fromEntries([...p.privileges].sort().map((x) => [x, 1]));
  if (Object.keys(map).length === 0) return {};
  if (path) return { [path]: map };
  const paths = ['/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms'];
  for (const [pool, members] of pools) paths.push(`/pool/${pool}`, ...members.map((vmid) => `/vms/${vmid}`));
  return Object.fromEntries([...new Set(paths)].map((x) => [x, map]));
}

type Params = Record<string, string | string[]>;

function substitute(path: string, params: Params): string | null {
  let missing = false;
  const out = path.replace(/\{(\w+)\}/g, (_, k: string) => {
    const v = params[k];
    if (typeof v !== 'string') missing = true;
    return typeof v === 'string' ? v : '';
  });
  return missing ? null : out;
}

/** Evaluates a schema `permissions.check`; returns null when allowed, else the failure detail. */
function evaluate(check: unknown[], p: Principal, params: Params): { what?: string } | null {
  const [op, ...rest] = check as [string, ...unknown[]];
  if (op === 'perm') {
    const [path, privs, ...opts] = rest as [string, string[], ...unknown[]];
    const any = opts.includes('any');
    const req = opts.indexOf('require_param');
    if (req >= 0 && params[opts[req + 1] as string] === undefined) return {};
    const concrete = substitute(path, params) ?? path;
    if (any) return privs.some((x) => p.privileges.has(x)) ? null : { what: `${concrete}, ${privs.join('|')}` };
    const missing = privs.find((x) => !p.privileges.has(x));
    return missing ? { what: `${concrete}, ${missing}` } : null;
  }
  if (op === 'and') {
    for (const sub of rest) {
      const r = evaluate(sub as unknown[], p, params);
      if (r) return r;
    }
    return null;
  }
  if (op === 'or') return rest.some((sub) => !evaluate(sub as unknown[], p, params)) ? null : {};
  if (op === 'userid-group') {
    const privs = rest[0] as string[];
    return params.userid === p.userid || privs.some((x) => p.privileges.has(x)) ? null : {};
  }
  if (op === 'userid-param') return params.userid === p.userid || p.privileges.has('User.Modify') ? null : {};
  return null;
}

/** Throws PVE's 403 when the caller lacks what the endpoint's permission check needs. */
export function checkPermission(perms: { check?: unknown[]; user?: string } | undefined, p: Principal, params: Params): void {
  if (!perms?.check) return;
  const r = evaluate(perms.check, p, params);
  if (r) throw new PveError(403, r.what ? `Permission check failed (${r.what})` : 'Permission check failed');
}
