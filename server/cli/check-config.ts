// `labdeck check-config`: validates the config file, then for each cluster says plainly what works
// and what does not, layer by layer (DNS, TCP, TLS, token, privileges, the console login,
// provisioning's privileges), with the fix for each failure; and whether the alert channels
// answer. Each layer is probed on its own so the report names the first broken thing instead of
// one opaque error.
import { exposureReport } from '../ops/exposure.js';
import { lookup } from 'node:dns/promises';
import { isIP, connect as tcpConnect } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { Agent, request } from 'undici';
import nodemailer from 'nodemailer';
import { ConfigError, loadConfig, type AppConfig, type ClusterConfig } from '../config.js';
import { existsSync } from 'node:fs';
import { judgeConsole, judgePrivileges, judgeProvisioning, type PermissionMap } from './privileges.js';
import { createDb, dialectOf } from '../db/index.js';

export type CheckLevel = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckLine {
  step: string;
  level: CheckLevel;
  message: string;
  fix?: string;
}

export interface ClusterReport { id: string; url: string; lines: CheckLine[] }

const TAG: Record<CheckLevel, string> = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]', skip: '[skip]' };

/** Renders report lines as aligned text, fixes indented under their line. */
export function formatLines(lines: CheckLine[], indent = '  '): string {
  return lines.map((l) => {
    const head = `${indent}${TAG[l.level]} ${l.step.padEnd(10)} ${l.message}`;
    const pad = `${indent}       ${' '.repeat(10)} `;
    return l.fix ? `${head}\n${pad}fix: ${l.fix.split('\n').join(`\n${pad}     `)}` : head;
  }).join('\n');
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = tcpConnect({ host, port });
    s.setTimeout(timeoutMs, () => { s.destroy(); reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })); });
    s.once('connect', () => { s.destroy(); resolve(Math.round(performance.now() - t0)); });
    s.once('error', (err) => { s.destroy(); reject(err); });
  });
}

interface TlsFacts { authorized: boolean; error: string | null; fingerprint: string; subject: string; validTo: string; nameOk: boolean }

function tlsProbe(host: string, servername: string | undefined, port: number, timeoutMs: number): Promise<TlsFacts> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host, port, servername, rejectUnauthorized: false, timeout: timeoutMs });
    s.setTimeout(timeoutMs, () => { s.destroy(); reject(new Error('TLS handshake timed out')); });
    s.once('secureConnect', () => {
      const cert = s.getPeerCertificate() as PeerCertificate;
      const identityError = servername ? checkServerIdentity(servername, cert) : undefined;
      resolve({
        authorized: s.authorized,
        error: s.authorizationError ? String(s.authorizationError) : null,
        fingerprint: cert.fingerprint256,
        subject: [cert.subject?.CN ?? ''].flat()[0] ?? '',
        validTo: cert.valid_to,
        nameOk: !identityError,
      });
      s.end();
    });
    s.once('error', (err) => { s.destroy(); reject(err); });
  });
}

/**
 * The Proxmox pools class scopes name, per cluster (provisioning clones into them), read from
 * labdeck's database without changing it; null when there is no database to read yet.
 */
export async function poolsInUse(databaseUrl: string): Promise<Map<string, string[]> | null> {
  if (dialectOf(databaseUrl) !== 'postgres' && !existsSync(databaseUrl)) return null;
  const db = createDb(databaseUrl);
  try {
    const rows = await db.selectFrom('class_scope').select(['cluster_id', 'value']).where('kind', '=', 'pool').distinct().execute();
    const out = new Map<string, string[]>();
    for (const r of rows) if (r.value) out.set(r.cluster_id, [...(out.get(r.cluster_id) ?? []), r.value]);
    return out;
  } catch {
    return null;
  } finally {
    await db.destroy().catch(() => undefined);
  }
}

/** POST /access/ticket as the console user, then that user's VM.Console. */
async function checkConsoleUser(c: ClusterConfig & { console: NonNullable<ClusterConfig['console']> }, base: string, dispatcher: Agent): Promise<CheckLine> {
  const who = c.console.username;
  const res = await request(`${base}/access/ticket`, {
    method: 'POST', dispatcher, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: who, password: c.console.password }).toString(),
  });
  const text = await res.body.text();
  if (res.statusCode === 401) {
    return { step: 'console', level: 'fail', message: `Proxmox refused the console user ${who}: wrong user name or password (consoles will not open)`,
      fix: `check console.username (user@realm, as in Datacenter → Permissions → Users) and console.password; set a new one with: pveum passwd ${who}` };
  }
  let ticket = '';
  try { ticket = (JSON.parse(text) as { data?: { ticket?: string } }).data?.ticket ?? ''; } catch { ticket = ''; }
  if (res.statusCode !== 200 || !ticket) {
    return { step: 'console', level: 'fail', message: `the console user's login answered HTTP ${res.statusCode} without a ticket`,
      fix: 'check that the url points at the Proxmox VE API (https://<node>:8006)' };
  }
  const pres = await request(`${base}/access/permissions`, { headers: { cookie: `PVEAuthCookie=${encodeURIComponent(ticket)}` }, dispatcher });
  const ptext = await pres.body.text();
  if (pres.statusCode !== 200) {
    return { step: 'console', level: 'warn', message: `console user ${who} logs in, but its permissions could not be read (HTTP ${pres.statusCode})` };
  }
  const v = judgeConsole(((JSON.parse(ptext) as { data?: PermissionMap }).data ?? {}) as PermissionMap, { username: who });
  return v.ok
    ? { step: 'console', level: 'ok', message: `console user ${who} logs in and may open consoles (VM.Console)` }
    : { step: 'console', level: 'fail', message: `console user ${who} logs in but lacks VM.Console on /vms (consoles will be refused)`, fix: v.fix };
}

/** Probes one cluster layer by layer; stops at the first layer the next ones depend on. `pools`: what class scopes clone into (null: unknown). */
export async function checkCluster(c: ClusterConfig, pools: string[] | null = []): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const url = new URL(c.url);
  const https = url.protocol === 'https:';
  const port = Number(url.port || (https ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const timeout = Math.min(c.timeoutMs, 10_000);
  const skipRest = (from: string[], why: string) => { for (const step of from) lines.push({ step, level: 'skip', message: why }); return lines; };
  const later = ['TCP', 'TLS', 'token', 'read', 'actions', 'addresses', 'console', 'provision'];

  let address = host;
  if (isIP(host)) {
    lines.push({ step: 'DNS', level: 'ok', message: `${host} is an address, no lookup needed` });
  } else {
    try {
      const found = await withTimeout(lookup(host, { all: true }), timeout, 'DNS');
      address = found[0].address;
      lines.push({ step: 'DNS', level: 'ok', message: `${host} → ${found.map((a) => a.address).join(', ')}` });
    } catch (err) {
      lines.push({ step: 'DNS', level: 'fail', message: `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        fix: `check the host name in the cluster's url, or this machine's DNS (/etc/resolv.conf); an IP address works too` });
      return skipRest(later, 'needs DNS');
    }
  }

  try {
    const ms = await tcpProbe(address, port, timeout);
    lines.push({ step: 'TCP', level: 'ok', message: `connected to ${address}:${port} in ${ms} ms` });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const fix = code === 'ECONNREFUSED'
      ? `nothing listens on port ${port}: is pveproxy running on the node (systemctl status pveproxy)? Proxmox uses port 8006`
      : code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
        ? `no route or a firewall drops traffic to ${address}:${port}: allow it from this machine`
        : `check that ${address}:${port} is reachable from this machine`;
    lines.push({ step: 'TCP', level: 'fail', message: `cannot connect to ${address}:${port}: ${code ?? (err as Error).message}`, fix });
    return skipRest(later.slice(1), 'needs TCP');
  }

  let tlsUsable = true;
  if (!https) {
    lines.push({ step: 'TLS', level: 'warn', message: 'plain HTTP: the token travels unencrypted',
      fix: 'use https://<node>:8006 for a real cluster (plain HTTP is for the simulator)' });
  } else {
    try {
      const t = await tlsProbe(address, isIP(host) ? undefined : host, port, timeout);
      const trusted = t.authorized && t.nameOk;
      if (trusted) {
        lines.push({ step: 'TLS', level: 'ok', message: `trusted certificate for ${t.subject || host}, valid until ${t.validTo}` });
      } else if (!c.verifyTls) {
        lines.push({ step: 'TLS', level: 'warn',
          message: `certificate not verified (verifyTls: false; ${t.error ?? 'name mismatch'}); fingerprint ${t.fingerprint}`,
          fix: 'compare this fingerprint with the node\'s (Node → System → Certificates); better, give the node a trusted certificate and set verifyTls: true' });
      } else {
        tlsUsable = false;
        const why = t.error === 'DEPTH_ZERO_SELF_SIGNED_CERT' || t.error === 'SELF_SIGNED_CERT_IN_CHAIN'
          ? 'self-signed certificate' : t.error ?? `certificate is not for ${host}`;
        lines.push({ step: 'TLS', level: 'fail', message: `${why} (fingerprint ${t.fingerprint})`,
          fix: 'give the node a certificate from a trusted CA (e.g. ACME), or point NODE_EXTRA_CA_CERTS at your CA file, '
            + 'or set "verifyTls": false for this cluster after checking the fingerprint' });
      }
    } catch (err) {
      tlsUsable = false;
      lines.push({ step: 'TLS', level: 'fail', message: `TLS handshake failed: ${(err as Error).message}`,
        fix: 'check that the url is https and the port is the Proxmox API port (8006)' });
    }
  }
  if (!tlsUsable) return skipRest(later.slice(2), 'needs TLS');

  const dispatcher = new Agent({ connect: { rejectUnauthorized: c.verifyTls, timeout }, headersTimeout: timeout + 4_000, bodyTimeout: timeout });
  const auth = { authorization: `PVEAPIToken=${c.tokenId}=${c.tokenSecret}` };
  const base = `${url.origin}/api2/json`;
  try {
    const res = await request(`${base}/version`, { headers: auth, dispatcher });
    const text = await res.body.text();
    if (res.statusCode === 401) {
      lines.push({ step: 'token', level: 'fail', message: `Proxmox refused the token ${c.tokenId}`,
        fix: 'check tokenId (user@realm!name) and tokenSecret, and that the token still exists and has not expired '
          + '(Datacenter → Permissions → API Tokens; pveum user token list <user>)' });
      return skipRest(later.slice(3), 'needs an accepted token');
    }
    if (res.statusCode !== 200) {
      lines.push({ step: 'token', level: 'fail', message: `unexpected answer HTTP ${res.statusCode} from ${base}/version`,
        fix: 'check that the url points at the Proxmox VE API (https://<node>:8006)' });
      return skipRest(later.slice(3), 'needs an accepted token');
    }
    let version = '';
    try { version = (JSON.parse(text) as { data?: { version?: string } }).data?.version ?? ''; } catch { version = ''; }
    lines.push({ step: 'token', level: 'ok', message: `${c.tokenId} accepted${version ? ` (Proxmox VE ${version})` : ''}` });

    const pres = await request(`${base}/access/permissions`, { headers: auth, dispatcher });
    const ptext = await pres.body.text();
    if (pres.statusCode !== 200) {
      lines.push({ step: 'read', level: 'fail', message: `cannot read the token's permissions (HTTP ${pres.statusCode})`,
        fix: 'check the token in Datacenter → Permissions → API Tokens' });
      return lines;
    }
    const perms = ((JSON.parse(ptext) as { data?: PermissionMap }).data ?? {}) as PermissionMap;
    const labels = { read: 'reading guests', actions: 'power actions', addresses: 'guest IP addresses', console: 'consoles' } as const;
    for (const v of judgePrivileges(perms, c.tokenId)) {
      lines.push(v.ok
        ? { step: v.feature, level: 'ok', message: `${labels[v.feature]} allowed` }
        : {
          step: v.feature, level: v.feature === 'read' ? 'fail' : 'warn',
          message: `${labels[v.feature]} not allowed: missing ${v.missing.join(', ')}`
            + (v.feature === 'actions' ? ' (students and teachers cannot start or stop VMs)' : v.feature === 'addresses' ? ' (no IPs shown)' : ''),
          fix: `${v.fix}  (a token with privilege separation needs its own ACL entry)`,
        });
    }
    if (c.console) {
      lines.push(await checkConsoleUser({ ...c, console: c.console }, base, dispatcher));
    } else {
      const v = judgeConsole(perms, { tokenId: c.tokenId });
      lines.push(v.ok
        ? { step: 'console', level: 'ok', message: 'consoles open with the API token (VM.Console); LXC terminals need Proxmox VE 9.0.4 or later, else a console user' }
        : { step: 'console', level: 'warn', message: 'consoles not allowed: missing VM.Console (students cannot open their VM\'s console)', fix: v.fix });
    }
    const prov = judgeProvisioning(perms, c.tokenId, pools ?? []);
    const poolNote = pools === null ? ' (pools not checked: no labdeck database to read class scopes from yet)'
      : pools.length ? ` (pools ${pools.join(', ')} included)` : '';
    lines.push(prov.ok
      ? { step: 'provision', level: 'ok', message: `making class VMs from templates allowed${poolNote}` }
      : {
        step: 'provision', level: 'warn',
        message: `making class VMs from templates not allowed: missing ${prov.missing.map((m) => `${m.privilege} on ${m.path}`).join(', ')}${poolNote}`,
        fix: prov.fixes.join('\n'),
      });
  } catch (err) {
    lines.push({ step: 'token', level: 'fail', message: `request failed: ${(err as Error).message}`,
      fix: 'the node accepted a connection but did not answer the API: check pveproxy on the node and the cluster\'s timeoutMs' });
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
  return lines;
}

/** Probes the alert channels without sending anything (SMTP: connect and authenticate). */
export async function checkAlerts(cfg: AppConfig['alerts']): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  if (!cfg.enabled || (!cfg.email && !cfg.webhook)) {
    lines.push({ step: 'alerts', level: 'warn', message: 'no alert channel configured: nobody hears when a cluster is down',
      fix: 'add "alerts": {"email": {...}} or {"webhook": {"url": ...}} to the config file' });
    return lines;
  }
  if (cfg.email) {
    const transport = nodemailer.createTransport({
      host: cfg.email.host, port: cfg.email.port, secure: cfg.email.secure, requireTLS: cfg.email.requireTls,
      auth: cfg.email.auth, tls: { rejectUnauthorized: cfg.email.verifyTls },
      connectionTimeout: cfg.email.timeoutMs, greetingTimeout: cfg.email.timeoutMs, socketTimeout: cfg.email.timeoutMs,
    });
    try {
      await transport.verify();
      lines.push({ step: 'email', level: 'ok', message: `SMTP relay ${cfg.email.host}:${cfg.email.port} accepts us` });
    } catch (err) {
      lines.push({ step: 'email', level: 'fail', message: `SMTP relay ${cfg.email.host}:${cfg.email.port}: ${(err as Error).message}`,
        fix: 'check alerts.email host, port, secure (true for 465), auth user and pass' });
    } finally {
      transport.close();
    }
  }
  if (cfg.webhook) {
    const u = new URL(cfg.webhook.url);
    lines.push({ step: 'webhook', level: 'ok', message: `will POST to ${u.origin}${u.pathname}${cfg.webhook.secret ? ' (signed)' : ''}` });
  }
  return lines;
}

/** What the config leaves open to anyone who reaches labdeck, as check lines (see ops/exposure.ts). */
export function checkExposure(config: Pick<AppConfig, 'publicUrl' | 'allowedHosts' | 'metrics' | 'demo'>): CheckLine[] {
  return exposureReport(config).map((e) => ({ step: e.step, level: e.level, message: e.message, ...(e.fix ? { fix: e.fix } : {}) }));
}

/** Runs the whole check; returns the exit code (0 all fine or warnings, 1 something broken, 2 bad config). */
export async function runCheckConfig(env: NodeJS.ProcessEnv, write: (s: string) => void): Promise<number> {
  if (!env.LABDECK_CONFIG) {
    write('No config file (LABDECK_CONFIG is not set): labdeck would start in demo mode. Nothing to check.\n');
    return 2;
  }
  let config: AppConfig;
  try {
    config = await loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      write(`${TAG.fail} config    ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  write(`${TAG.ok} config     ${config.configPath}: valid, ${config.clusters.length} cluster(s)\n`);
  let failed = false;
  const pools = await poolsInUse(config.databaseUrl);
  const reports = await Promise.all(config.clusters.map(async (c) => ({ c, lines: await checkCluster(c, pools ? pools.get(c.id) ?? [] : null) })));
  for (const { c, lines } of reports) {
    write(`\nCluster ${c.id}${c.name ? ` (${c.name})` : ''} at ${c.url}\n${formatLines(lines)}\n`);
    if (lines.some((l) => l.level === 'fail')) failed = true;
  }
  write(`\nExposure\n${formatLines(checkExposure(config))}\n`);
  const alertLines = await checkAlerts(config.alerts);
  write(`\nAlerts\n${formatLines(alertLines)}\n`);
  if (alertLines.some((l) => l.level === 'fail')) failed = true;
  write(failed ? '\nSome checks failed: see the fix under each [FAIL].\n' : '\nEverything labdeck needs works.\n');
  return failed ? 1 : 0;
}
