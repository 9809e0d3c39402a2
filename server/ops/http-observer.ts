// One middleware for request observability: a request id (X-Request-Id, echoed back), a log line
// per request with id, user and route, and the HTTP and power-action metrics. It logs the route
// pattern, never the raw path or query (projector tokens live in paths), and no headers.
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { randomUUID } from 'node:crypto';
import { log as rootLog, type Logger } from '../log.js';
import { powerOutcome, type Metrics } from './metrics.js';
import { powerActions } from '../../contract/vm.js';

// The power actions labdeck's routes take (contract/vm.ts); another word in their place is not one.
const POWER_ACTIONS: ReadonlySet<string> = new Set(powerActions);
const POWER_ROUTE = new RegExp(`^/api/vms?/:[A-Za-z]+/(?:(${powerActions.join('|')})|:[A-Za-z]+)$`);

/** The action of a power-action request, whether the route names it or takes it as a parameter. */
function powerActionOf(method: string, route: string, path: string): string | null {
  if (method !== 'POST') return null;
  const m = POWER_ROUTE.exec(route);
  if (!m) return null;
  const action = m[1] ?? path.slice(path.lastIndexOf('/') + 1);
  return POWER_ACTIONS.has(action) ? action : null;
}
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

const BULK_ROUTE = '/api/vms/actions';

/** Counts each VM of a bulk action by its own outcome (the answer is `{action, results: [{httpStatus}]}`). */
async function countBulk(metrics: Metrics, res: Response): Promise<void> {
  try {
    const body = await res.clone().json() as { action?: unknown; results?: Array<{ httpStatus?: unknown }> };
    if (typeof body.action !== 'string' || !POWER_ACTIONS.has(body.action) || !Array.isArray(body.results)) return;
    for (const r of body.results) if (typeof r.httpStatus === 'number') metrics.observePowerAction(body.action, powerOutcome(r.httpStatus));
  } catch {
    // Not the answer we know: counting is best effort, the request itself is done.
  }
}

/** The signed-in user's name if an earlier middleware put a user on the context. */
function userOf(c: Context): string | undefined {
  const user = (c.var as Record<string, unknown>).user as { username?: unknown } | null | undefined;
  return typeof user?.username === 'string' ? user.username : undefined;
}

/** The route pattern that answered, or "unmatched" (bounded label values for metrics). */
function routeOf(c: Context): string {
  try {
    const path = routePath(c);
    return !path || path === '*' || path === '/*' ? (c.res.status === 404 ? 'unmatched' : 'static') : path;
  } catch {
    return 'unmatched';
  }
}

/** Request id, request log and HTTP metrics; mount first, before every route. */
export function httpObserver(metrics: Metrics | null, logger: Logger = rootLog): MiddlewareHandler {
  const log = logger.child({ module: 'http' });
  return async (c, next) => {
    const t0 = performance.now();
    const incoming = c.req.header('x-request-id');
    const reqId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.header('X-Request-Id', reqId);
    try {
      await next();
    } finally {
      const ms = performance.now() - t0;
      const status = c.res.status;
      const route = routeOf(c);
      const method = c.req.method;
      metrics?.observeHttp(method, route, status, ms);
      const action = powerActionOf(method, route, c.req.path);
      if (action) metrics?.observePowerAction(action, powerOutcome(status));
      if (metrics && method === 'POST' && route === BULK_ROUTE && status === 200) await countBulk(metrics, c.res);
      const line = { reqId, method, route, status, ms: Math.round(ms * 10) / 10, user: userOf(c) };
      // Probes every few seconds (a 503 from /readyz is an answer, not a failure) stay at debug.
      if (QUIET_ROUTES.has(route)) log.debug(line, 'request');
      else if (status >= 500) log.error(line, 'request failed');
      else log.info(line, 'request');
    }
  };
}
