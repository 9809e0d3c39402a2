// Request guards: signed-in and role checks, same-origin check for state-changing requests, and the
// request's own origin (honouring X-Forwarded-* only when a trusted proxy is configured).
import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { SessionUser } from '../auth/session.js';
import type { Role } from '../db/schema.js';
import { forbidden, unauthorized } from './errors.js';
import type { AppEnv } from './env.js';
import { errorBody } from './errors.js';
import { hostAllowed, linkOrigin, originAllowed, unknownHostMessage, type HostPolicy } from '../hosts.js';

/** The signed-in user, or a 401. */
export function requireUser(c: Context<AppEnv>): SessionUser {
  const u = c.get('user');
  if (!u) throw unauthorized();
  return u;
}

/** The signed-in user when they hold one of the roles; 401/403 otherwise. */
export function requireRole(c: Context<AppEnv>, ...roles: Role[]): SessionUser {
  const u = requireUser(c);
  if (!roles.includes(u.role)) throw forbidden(`only ${roles.join(' or ')} may do this`);
  return u;
}

/** Scheme and host the browser used to reach us. */
export function requestOrigin(c: Context, trustProxy: boolean): { proto: 'http' | 'https'; host: string; origin: string } {
  const url = new URL(c.req.url);
  let proto: 'http' | 'https' = url.protocol === 'https:' ? 'https' : 'http';
  let host = c.req.header('host') ?? url.host;
  if (trustProxy) {
    const fp = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
    if (fp === 'https' || fp === 'http') proto = fp;
    const fh = c.req.header('x-forwarded-host')?.split(',')[0]?.trim();
    if (fh) host = fh;
  }
  return { proto, host, origin: `${proto}://${host}` };
}

/**
 * The client's address. Behind a trusted proxy: the rightmost X-Forwarded-For hop the trusted
 * proxies did not add (`trustedHops` of them, each appending one) — the leftmost entries are
 * whatever the client sent (nginx's $proxy_add_x_forwarded_for keeps them), so they prove nothing.
 */
export function clientAddress(c: Context, trustProxy: boolean, trustedHops = 1): string {
  if (trustProxy) {
    const hops = (c.req.header('x-forwarded-for') ?? '').split(',').map((h) => h.trim()).filter(Boolean);
    const hop = hops[hops.length - trustedHops];
    if (hop) return hop;
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses requests that name a host labdeck is not configured for (publicUrl, allowedHosts): a
 * page on another name (DNS rebinding, a look-alike domain) cannot use labdeck through the
 * browser. The probes (/healthz, /readyz, /metrics) answer whatever name a monitor uses.
 */
export function allowedHostsOnly(policy: HostPolicy, trustProxy: boolean, exempt: ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    if (exempt.has(c.req.path)) return next();
    const { host } = requestOrigin(c, trustProxy);
    if (!hostAllowed(policy, host)) return c.json(errorBody('bad_request', unknownHostMessage(policy, host)), 421);
    await next();
  };
}

/** Where the links labdeck prints for this request point (the public URL when configured). */
export function linkOriginOf(c: Context, policy: HostPolicy, trustProxy: boolean): string {
  return linkOrigin(policy, requestOrigin(c, trustProxy).origin);
}

/** Refuses state-changing requests whose Origin (or Sec-Fetch-Site) says another site sent them. */
export function sameOriginOnly(trustProxy: boolean, policy: HostPolicy = { publicOrigin: null, allowed: null }): MiddlewareHandler {
  return async (c, next) => {
    if (!SAFE.has(c.req.method)) {
      const origin = c.req.header('origin');
      const site = c.req.header('sec-fetch-site');
      if (origin !== undefined) {
        if (!originAllowed(policy, origin, requestOrigin(c, trustProxy).origin)) throw forbidden('cross-origin request refused');
      } else if (site !== undefined && site !== 'same-origin' && site !== 'none') {
        throw forbidden('cross-site request refused');
      }
    }
    await next();
  };
}
