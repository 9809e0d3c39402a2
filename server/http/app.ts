// The Hono app: error mapping, security headers, body limits, same-origin check, session loading,
// the API routes under /api, and the built client for everything else.
import { Hono, type Context } from 'hono';
import { routePath } from 'hono/route';
import type { IncomingMessage } from 'node:http';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { bodyLimit } from 'hono/body-limit';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { DomainError, errorBody, shownTo, statusOf } from './errors.js';
import { ThrottledError } from '../auth/throttle.js';
import { allowedHostsOnly, sameOriginOnly } from './middleware.js';
import { hostPolicy } from '../hosts.js';
import { serveClient } from './static.js';
import { authRoutes } from './routes/auth.js';
import { userRoutes } from './routes/users.js';
import { vmRoutes } from './routes/vms.js';
import { classRoutes } from './routes/classes.js';
import { adminRoutes } from './routes/admin.js';
import { describeDbError, isDatabaseUnavailable } from '../db/health.js';
import { log } from '../log.js';
import { extname } from 'node:path';

/** Paths a monitor asks by whatever name it knows the machine by: no Host check. */
const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** Largest accepted request body (a mappings.json of a big school fits easily). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Whether the client closed the connection before its request body arrived (pure over the request). */
function clientWentAway(c: Context<AppEnv>): boolean {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && (incoming.readableAborted || (incoming.destroyed && !incoming.complete))) return true;
  return c.req.raw.signal?.aborted === true;
}

/** The route pattern that answered, for logs. */
function routeOf(c: Context<AppEnv>): string {
  try {
    return routePath(c) || 'unmatched';
  } catch {
    return 'unmatched';
  }
}

/** Builds the app; other modules add routes to the returned app before it is served (see server.ts). */
export function createApp(deps: ApiDeps, middleware?: (app: Hono<AppEnv>) => void): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.onError((err, c) => {
    if (err instanceof DomainError) {
      const shown = shownTo(err, c.get('user')?.role === 'admin');
      return c.json(errorBody(shown.code, shown.message, shown.details), statusOf(err));
    }
    if (err instanceof ThrottledError) {
      return c.json(errorBody('too_many_requests', err.message), 429, { 'Retry-After': String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))) });
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = status === 413 ? 'payload_too_large' : status === 401 ? 'unauthorized' : status === 404 ? 'not_found' : 'bad_request';
      return c.json(errorBody(code, err.message || 'bad request'), status);
    }
    // Logs name the route pattern, never the raw path: tokens (invites, projectors) live in paths.
    const route = routeOf(c);
    if (clientWentAway(c)) {
      // The client hung up while sending (an upload cancelled, a tab closed): nobody's bug, nobody to answer.
      log.info({ method: c.req.method, route }, 'the client went away before its request arrived whole');
      return c.json(errorBody('bad_request', 'the request did not arrive whole'), 400, { Connection: 'close' });
    }
    if (isDatabaseUnavailable(err)) {
      // Not a bug of this request: the database is down, full or locked; the client may retry.
      log.warn({ err: describeDbError(err), method: c.req.method, route }, 'request failed: database unavailable');
      return c.json(errorBody('unavailable', 'the database is unavailable right now; try again shortly'), 503, { 'Retry-After': '5' });
    }
    log.error({ err, method: c.req.method, route }, 'unhandled error in a request');
    return c.json(errorBody('internal', 'internal error'), 500);
  });

  app.use('*', secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"], fontSrc: ["'self'"], objectSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'self'"], formAction: ["'self'"],
    },
    referrerPolicy: 'same-origin',
    crossOriginEmbedderPolicy: false,
  }));
  const hosts = hostPolicy(deps.config);
  app.use('*', allowedHostsOnly(hosts, deps.config.auth.trustProxy, PROBE_PATHS));
  middleware?.(app);

  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    // The rest of the body is never read, so the connection cannot be reused.
    onError: (c) => c.json(errorBody('payload_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`), 413, { Connection: 'close' }),
  });
  // A GET or HEAD carries no body the server reads; asking for one makes the node adapter build a
  // whole fetch Request (a quarter of the CPU of a student's list read).
  app.use('/api/*', (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? next() : limitBody(c, next)));
  app.use('/api/*', sameOriginOnly(deps.config.auth.trustProxy, hosts));
  app.use('/api/*', async (c, next) => {
    c.set('user', await deps.sessions.getSessionUser(c.req.header('cookie')));
    c.header('Cache-Control', 'no-store');
    await next();
  });

  for (const routes of [authRoutes, userRoutes, vmRoutes, classRoutes, adminRoutes]) app.route('/api', routes(deps));

  return app;
}

const NO_CLIENT_PAGE = `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>labdeck: web client not built</title>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The web client is not built</h1>
<p>labdeck is running and its API answers, but there are no page files to serve (<code>dist/client</code> is missing).</p>
<p>Run <code>npm run build</code> and restart labdeck (<code>npm start</code> builds it for you).</p>
</body></html>`;

/** Adds the final handlers: JSON 404 for unknown API paths and the client for other GETs. Call last. */
export function finishApp(app: Hono<AppEnv>, staticRoot: string | null): void {
  app.all('/api/*', (c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  app.get('*', async (c) => {
    const res = staticRoot ? await serveClient(c, staticRoot) : null;
    if (res) return res;
    // A browser asking for a page of a checkout whose client was never built: say how to fix it.
    if (!extname(c.req.path) && (c.req.header('accept') ?? '').includes('text/html')) return c.html(NO_CLIENT_PAGE, 503);
    return c.json(errorBody('not_found', `no route GET ${c.req.path}`), 404);
  });
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
}
