// The config file and environment, validated with valibot. No cluster configured → demo mode.
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { roles } from '../contract/users.js';
import { AlertsConfigSchema, MetricsConfigSchema, RetentionConfigSchema } from './ops/config-schema.js';

const Port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));

export const ClusterConfigSchema = v.strictObject({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, - or _')),
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
  url: v.pipe(v.string(), v.url('must be a URL like https://pve1.example.edu:8006')),
  tokenId: v.pipe(v.string(), v.regex(/^[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9._-]*$/, 'must look like user@realm!tokenname')),
  tokenSecret: v.pipe(v.string(), v.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be the token UUID (lower case)')),
  verifyTls: v.optional(v.boolean(), true),
  /** Probe TCP 3389/22 on guest addresses to tell whether RDP/SSH answer. */
  probePorts: v.optional(v.boolean(), true),
  /** Proxmox-credential sign-in through this cluster, with groups mapped to labdeck roles. */
  login: v.optional(v.strictObject({
    enabled: v.optional(v.boolean(), true),
    realm: v.optional(v.string(), 'pve'),
    groupRoles: v.optional(v.record(v.string(), v.picklist(roles)), {}),
    defaultRole: v.optional(v.nullable(v.picklist(['teacher', 'student'])), null),
  })),
  /**
   * A Proxmox user whose password ticket opens consoles instead of the API token: needed for LXC
   * terminals on clusters before Proxmox VE 9.0.4 (libpve-access-control), whose termproxy
   * refuses a token's ticket. It needs VM.Console on the guests' paths.
   */
  console: v.optional(v.strictObject({
    username: v.pipe(v.string(), v.regex(/^[^@!\s:]+@[A-Za-z][A-Za-z0-9._-]*$/, 'must look like user@realm (no API token)')),
    password: v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(1024)),
  })),
  /** Per-call timeout towards this cluster. */
  timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(120_000)), 10_000),
});

const offOrAtLeast = (min: number) => (x: number): boolean => x === 0 || x >= min;

export const SyncConfigSchema = v.strictObject({
  fullIntervalSeconds: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(86_400)), 300),
  /** The snapshot (/cluster/resources) between full passes; the live signals below do the fast work. */
  quickIntervalSeconds: v.optional(v.pipe(v.number(), v.minValue(0.1), v.maxValue(3_600)), 30),
  /** Proxmox's task list (/cluster/tasks): a task started or ended anywhere sends its guest to the fast lane. 0 = off. */
  taskIntervalSeconds: v.optional(v.pipe(v.number(), v.check(offOrAtLeast(0.5), 'must be 0 (off) or from 0.5 to 3600'), v.maxValue(3_600)), 2),
  /** Node-local guest lists, where guests run: a shutdown from inside a guest (no task). 0 = off. */
  nodeListIntervalSeconds: v.optional(v.pipe(v.number(), v.check(offOrAtLeast(1), 'must be 0 (off) or from 1 to 3600'), v.maxValue(3_600)), 4),
  /** Poll period of the fast lane (guests just acted on or just changed). */
  fastIntervalMs: v.optional(v.pipe(v.number(), v.minValue(50), v.maxValue(60_000)), 1000),
  /** Per-cluster concurrency of per-guest detail calls. */
  detailConcurrency: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64)), 8),
  /** A cluster with no successful pass for this long has stale data. */
  staleAfterSeconds: v.optional(v.pipe(v.number(), v.minValue(1)), 90),
  maxBackoffSeconds: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(3_600)), 300),
});

/** Provisioning (server/provision): how hard labdeck may push a node while cloning a class's VMs. */
export const ProvisionConfigSchema = v.strictObject({
  /** Clones (and their follow-up steps) running at once per Proxmox node. */
  perNode: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(32)), 2),
  /** Retries of a clone that hit a lock timeout or a taken vmid. */
  retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(20)), 6),
  /** First retry delay; doubled each time (with jitter), at most 30 s. */
  retryBaseMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10), v.maxValue(60_000)), 1000),
  /** How often a running task is polled. */
  pollMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(20), v.maxValue(10_000)), 500),
  /** Largest number of VMs one job may make. */
  maxCount: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(500)), 100),
  /**
   * Several instances (instance.shared): how often the instance running a job renews its lease.
   * Another instance takes a job over once its lease is 3 renewals old, and looks for such jobs
   * every 2 renewals.
   */
  leaseRenewMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(60_000)), 5000),
});

/** This instance among several on one PostgreSQL database (server/cluster). */
export const InstanceConfigSchema = v.strictObject({
  /** Shown as each cluster's sync leader; default hostname + pid. Env LABDECK_INSTANCE overrides it. */
  name: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$/, 'must be 1 to 100 letters, digits, . _ : @ or -'))),
  /** Several labdeck instances share this (PostgreSQL) database: one leads each cluster's sync. Env LABDECK_SHARED=1. */
  shared: v.optional(v.boolean(), false),
  /** How often an instance that leads no cluster tries to take the lead. */
  leaderRetryMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(60_000)), 2000),
  /** How often the leader pings its lock connection. */
  lockPingMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(30_000)), 1000),
  /** A stalled leader's lock connection is ended by PostgreSQL after this long without a ping. */
  lockTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(500), v.maxValue(120_000)), 5000),
  /** Besides notifications, how often every instance reads what others wrote. */
  followIntervalMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(60_000)), 3000),
  /** How often an instance looks for power actions another instance left open (it stopped, or was killed 15 min ago). */
  recoverySweepMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(3_600_000)), 60_000),
});

/** An origin-only http(s) URL: what browsers type to reach labdeck. */
const urlOf = (s: string): URL | null => URL.canParse(s) ? new URL(s) : null;
const PublicUrl = v.pipe(
  v.string(),
  v.check((s) => urlOf(s) !== null, 'must be a URL like https://labdeck.example.edu'),
  v.check((s) => /^https?:$/.test(urlOf(s)?.protocol ?? 'http:'), 'must start with https:// (or http://)'),
  v.check((s) => { const u = urlOf(s); return !u || (!u.username && !u.password && u.pathname === '/' && !u.search && !u.hash); },
    'must be only scheme, host and port (no path, query or user), like https://labdeck.example.edu'),
  v.transform((s) => new URL(s).origin),
);

/** A host name (or IP) with an optional port, as a browser puts it in the Host header. */
const HostName = v.pipe(
  v.string(),
  v.regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)(:\d{1,5})?$/,
    'must be a host name with an optional port, like labdeck.example.edu or labdeck:8080'),
);

export const FileConfigSchema = v.strictObject({
  instance: v.optional(InstanceConfigSchema, {}),
  clusters: v.optional(v.array(ClusterConfigSchema), []),
  /**
   * The address users reach labdeck at. Every link labdeck prints (invites, projector views) uses
   * it, and requests naming another Host are refused (see allowedHosts).
   */
  publicUrl: v.optional(PublicUrl),
  /** More host names labdeck answers to besides publicUrl's (loopback names always pass). */
  allowedHosts: v.optional(v.pipe(v.array(HostName), v.maxLength(50)), []),
  sync: v.optional(SyncConfigSchema, {}),
  /** Extra sections (auth, alerts, metrics, retention) are added by their modules. */
  auth: v.optional(v.strictObject({
    sessionTtlHours: v.optional(v.pipe(v.number(), v.minValue(0.1), v.maxValue(24 * 90)), 12),
    trustProxy: v.optional(v.boolean(), false),
    /** Proxies in front of labdeck that each append to X-Forwarded-For; the client is the hop before them. */
    trustedHops: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10)), 1),
  }), {}),
  alerts: v.optional(AlertsConfigSchema, {}),
  metrics: v.optional(MetricsConfigSchema, {}),
  retention: v.optional(RetentionConfigSchema, {}),
  provision: v.optional(ProvisionConfigSchema, {}),
});

export type ClusterConfig = v.InferOutput<typeof ClusterConfigSchema>;
export type SyncConfig = v.InferOutput<typeof SyncConfigSchema>;
export type InstanceConfig = v.InferOutput<typeof InstanceConfigSchema>;
export type FileConfig = v.InferOutput<typeof FileConfigSchema>;

export interface AppConfig extends FileConfig {
  port: number;
  host: string;
  databaseUrl: string;
  /** Undefined only in demo mode, where a random one is made per start. */
  sessionSecret: string;
  demo: boolean;
  configPath: string | null;
}

/** A config problem a user can fix: the message names the field. */
export class ConfigError extends Error {}

/** Replaces `${ENV_NAME}` references in every string of a parsed JSON value. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const got = env[name];
      if (got === undefined) throw new ConfigError(`${path || 'config'}: environment variable ${name} is not set`);
      return got;
    });
  }
  if (Array.isArray(value)) return value.map((x, i) => expandEnv(x, env, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, expandEnv(x, env, path ? `${path}.${k}` : k)]));
  }
  return value;
}

/** Validates a parsed config file; throws ConfigError naming the first bad field. */
export function parseFileConfig(raw: unknown, env: NodeJS.ProcessEnv = {}): FileConfig {
  const result = v.safeParse(FileConfigSchema, expandEnv(raw, env));
  if (!result.success) {
    const issue = result.issues[0];
    const where = v.getDotPath(issue) ?? 'config';
    throw new ConfigError(`${where}: ${issue.message}`);
  }
  const ids = new Set<string>();
  for (const c of result.output.clusters) {
    if (ids.has(c.id)) throw new ConfigError(`clusters: duplicate cluster id "${c.id}"`);
    ids.add(c.id);
  }
  return result.output;
}

/** LABDECK_INSTANCE and LABDECK_SHARED over the config file's instance section. */
function withInstanceEnv(file: FileConfig, env: NodeJS.ProcessEnv): FileConfig {
  const instance = { ...file.instance };
  if (env.LABDECK_INSTANCE) {
    const r = v.safeParse(InstanceConfigSchema.entries.name, env.LABDECK_INSTANCE);
    if (!r.success) throw new ConfigError(`LABDECK_INSTANCE: ${r.issues[0].message}`);
    instance.name = r.output;
  }
  if (env.LABDECK_SHARED !== undefined && env.LABDECK_SHARED !== '') {
    if (!/^(1|0|true|false)$/.test(env.LABDECK_SHARED)) throw new ConfigError(`LABDECK_SHARED: must be 1, 0, true or false, got "${env.LABDECK_SHARED}"`);
    instance.shared = env.LABDECK_SHARED === '1' || env.LABDECK_SHARED === 'true';
  }
  return { ...file, instance };
}

/** Reads env and the config file (LABDECK_CONFIG); no config file → demo mode. */
export async function loadConfig(env: NodeJS.ProcessEnv = process.env): Promise<AppConfig> {
  const configPath = env.LABDECK_CONFIG || null;
  let file: FileConfig = parseFileConfig({});
  if (configPath) {
    let text: string;
    try {
      text = await readFile(configPath, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${configPath}: ${(err as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${configPath} is not valid JSON: ${(err as Error).message}`);
    }
    file = parseFileConfig(raw, env);
  }
  const demo = !configPath;
  file = withInstanceEnv(file, env);
  const port = env.PORT === undefined ? 8080 : Number(env.PORT);
  if (!Number.isInteger(port) || !v.is(Port, port)) throw new ConfigError(`PORT: must be a port number, got "${env.PORT}"`);
  let sessionSecret = env.SESSION_SECRET ?? '';
  if (sessionSecret.length < 32) {
    if (!demo) throw new ConfigError('SESSION_SECRET: must be set to at least 32 characters outside demo mode');
    sessionSecret = (await import('node:crypto')).randomBytes(32).toString('hex');
  }
  const databaseUrl = env.DATABASE_URL || './data/labdeck.db';
  if (file.instance.shared && !/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    throw new ConfigError('instance.shared: several instances need a PostgreSQL database (DATABASE_URL=postgres://...)');
  }
  return {
    ...file,
    port,
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    sessionSecret,
    demo,
    configPath,
  };
}
