// Which host names labdeck answers to, and the origin of every link it prints. With `publicUrl`
// (and optionally `allowedHosts`) in the config, a request naming any other Host is refused and
// links (invites, projector views) use the public URL, whatever the request's Host header said.
// Without either, labdeck answers to any host and builds links from the request (demo mode, a
// first try on localhost). Loopback names always pass: the CLI and health checks on the machine.
import type { IncomingMessage } from 'node:http';

export interface HostPolicy {
  /** The configured public origin (`https://labdeck.example.edu`), or null. */
  publicOrigin: string | null;
  /** Hosts requests may name (hostname, and a port when the entry gives one); null = any host. */
  allowed: ReadonlyArray<{ hostname: string; port: string | null }> | null;
}

/** Splits `host[:port]` (IPv6 in brackets) into lower-case hostname and port (pure). */
export function splitHost(host: string): { hostname: string; port: string | null } {
  const h = host.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:]*)(?::(\d{1,5}))?$/.exec(h);
  return m ? { hostname: m[1], port: m[2] ?? null } : { hostname: h, port: null };
}

/**
 * The policy the config describes (pure). The address labdeck listens on (`HOST`, when it is one
 * address rather than all of them) is allowed too: the CLI on the same machine talks to it.
 */
export function hostPolicy(cfg: { publicUrl?: string; allowedHosts?: readonly string[]; host?: string }): HostPolicy {
  const publicOrigin = cfg.publicUrl ? new URL(cfg.publicUrl).origin : null;
  if (!publicOrigin && !cfg.allowedHosts?.length) return { publicOrigin: null, allowed: null };
  const allowed = (cfg.allowedHosts ?? []).map(splitHost);
  if (cfg.host && cfg.host !== '0.0.0.0' && cfg.host !== '::') {
    allowed.push({ hostname: cfg.host.includes(':') && !cfg.host.startsWith('[') ? `[${cfg.host.toLowerCase()}]` : cfg.host.toLowerCase(), port: null });
  }
  if (publicOrigin) {
    const u = new URL(publicOrigin);
    allowed.push({ hostname: u.hostname.toLowerCase(), port: u.port || null });
  }
  return { publicOrigin, allowed };
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/** Whether a request naming `host` (its Host, or X-Forwarded-Host behind a trusted proxy) is answered (pure). */
export function hostAllowed(policy: HostPolicy, host: string | undefined): boolean {
  if (!policy.allowed) return true;
  if (!host) return false;
  const { hostname, port } = splitHost(host);
  if (LOOPBACK.test(hostname)) return true;
  return policy.allowed.some((a) => a.hostname === hostname && (a.port === null || a.port === (port ?? null)));
}

/** Whether a browser's Origin may make state-changing requests: the request's own origin or the public URL (pure). */
export function originAllowed(policy: HostPolicy, origin: string, ownOrigin: string): boolean {
  return origin === ownOrigin || (policy.publicOrigin !== null && origin === policy.publicOrigin);
}

/** Where links labdeck prints point: the public URL when configured, else the request's own origin (pure). */
export function linkOrigin(policy: HostPolicy, ownOrigin: string): string {
  return policy.publicOrigin ?? ownOrigin;
}

/** The refusal's words for a host not in the list (the host shortened: it is the caller's input). */
export function unknownHostMessage(policy: HostPolicy, host: string | undefined): string {
  const named = (host ?? '').slice(0, 100);
  const where = policy.publicOrigin ?? policy.allowed?.map((a) => a.hostname).join(', ') ?? '';
  return `this labdeck does not answer for host "${named}": use ${where} (publicUrl and allowedHosts in the config)`;
}

/** Scheme, host and origin of a raw Node request (X-Forwarded-* only behind a trusted proxy). */
export function nodeRequestOrigin(req: IncomingMessage, trustProxy: boolean): { proto: string; host: string; origin: string } {
  let proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  let host = req.headers.host ?? '';
  if (trustProxy) {
    const fp = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0].trim().toLowerCase();
    if (fp === 'https' || fp === 'http') proto = fp;
    const fh = String(req.headers['x-forwarded-host'] ?? '').split(',')[0].trim();
    if (fh) host = fh;
  }
  return { proto, host, origin: `${proto}://${host}` };
}
