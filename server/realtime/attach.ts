// socket.io on the server's HTTP server: the origin check, the handshake (the session cookie, or a
// projector token), and each socket's life (hello, unknown events, disconnect). Whom a socket may
// see is groups.ts's business; this module only lets it in and tells the hub when it comes and goes.
import { hostAllowed, nodeRequestOrigin, type HostPolicy } from '../hosts.js';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type Socket } from 'socket.io';
import * as v from 'valibot';
import type { Access } from '../auth/permissions.js';
import type { SessionUser } from '../auth/session.js';
import { hashToken } from '../auth/tokens.js';
import type { Logger } from '../log.js';
import type { ServerToClient, ClientToServer, SocketData, Ack } from './events.js';
import { DomainError, badRequest, notFound, type ErrorCode } from '../../contract/errors.js';

export type LabServer = Server<ClientToServer, ServerToClient, Record<string, never>, SocketData>;
export type LabSocket = Socket<ClientToServer, ServerToClient, Record<string, never>, SocketData>;

export interface SessionCheck { getSessionUser(cookieHeader: string | undefined): Promise<SessionUser | null> }

const HandshakeAuth = v.object({
  projector: v.optional(v.pipe(v.string(), v.minLength(16), v.maxLength(256), v.regex(/^[A-Za-z0-9_-]+$/))),
});
const HelloPayload = v.optional(v.nullable(v.object({})));

/** A refusal as a socket ack: the same codes the HTTP layer maps to statuses. */
export function ackFor(err: DomainError): Ack {
  return { ok: false, msg: err.message, code: err.code };
}

function refuse(reason: string, code: ErrorCode): Error {
  const err = new Error(code) as Error & { data: { code: ErrorCode; reason: string } };
  err.data = { code, reason };
  return err;
}

/**
 * Refuses cross-origin browser handshakes (a cookie-authenticated socket is a CSRF target).
 * X-Forwarded-Host counts only behind a trusted proxy: otherwise anyone could name their own site.
 */
export function sameOrigin(req: IncomingMessage, trustProxy: boolean, hosts: HostPolicy): boolean {
  if (!hostAllowed(hosts, nodeRequestOrigin(req, trustProxy).host)) return false;
  const origin = req.headers.origin;
  if (!origin) return true;
  if (hosts.publicOrigin !== null && origin === hosts.publicOrigin) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  const forwarded = trustProxy ? req.headers['x-forwarded-host'] : undefined;
  return host === req.headers.host || (typeof forwarded === 'string' && forwarded.split(',')[0].trim() === host);
}

export interface ServerOptions {
  trustProxy?: boolean;
  hosts?: HostPolicy;
  transports?: Array<'polling' | 'websocket'>;
}

/** socket.io on `httpServer` at /socket.io, refusing handshakes from other origins. */
export function createServer(httpServer: HttpServer, opts: ServerOptions): LabServer {
  return new Server<ClientToServer, ServerToClient, Record<string, never>, SocketData>(httpServer, {
    path: '/socket.io',
    serveClient: false,
    ...(opts.transports ? { transports: opts.transports } : {}),
    maxHttpBufferSize: 16 * 1024,
    // Heartbeat: a ping every 40 s (engine.io's default is 25 s), 20 s for the pong as before. Each
    // ping round costs the server a timer, a frame out and a frame in per socket: 2,051 idle
    // sockets with nothing else to do measured 0.74-0.88 % of a core at 25 s and 0.64 % at 50 s,
    // and the ping path was ~100 ms of the main thread per 30 s in the bench's idle profile. 40 s
    // still sends something on every connection well within the 60 s idle timeout of nginx's
    // proxy_read_timeout and AWS load balancers, and a connection that died silently is dropped
    // after 60 s (was 45 s). A closed tab or a restarted server is seen at once (TCP close), and
    // revoked sessions are disconnected on the access feed, not by the heartbeat.
    pingInterval: 40_000,
    pingTimeout: 20_000,
    // Other upgrades on this server (the console relay, server/console) are answered by their owners.
    destroyUpgrade: false,
    allowRequest: (req, cb) => {
      const ok = sameOrigin(req, opts.trustProxy ?? false, opts.hosts ?? { publicOrigin: null, allowed: null });
      cb(ok ? null : 'origin not allowed', ok);
    },
  });
}

export interface Lifecycle {
  access: Access;
  sessions: SessionCheck;
  logger: Logger;
  /** The revision `hello` answers with. */
  revision(): number;
  /** A socket passed the handshake; false refuses it (it may see nothing). */
  connected(socket: LabSocket): boolean;
  disconnected(socket: LabSocket): void;
}

/** The handshake (session or projector token) and every socket's handlers. */
export function admitSockets(io: LabServer, life: Lifecycle): void {
  const { access, sessions, logger } = life;
  io.use(async (socket, next) => {
    try {
      const parsed = v.safeParse(HandshakeAuth, socket.handshake.auth ?? {});
      if (!parsed.success) return next(refuse('The handshake carries a malformed projector token.', 'bad_request'));
      const token = parsed.output.projector;
      socket.data.group = '';
      socket.data.cookie = undefined;
      if (token) {
        if (access.roomsForProjector(token).length === 0) return next(refuse('This projector link is not valid: it may have expired or been revoked.', 'forbidden'));
        socket.data.user = null;
        socket.data.projectorToken = token;
        socket.data.projectorHash = hashToken(token);
        return next();
      }
      const cookie = socket.request.headers.cookie;
      const user = await sessions.getSessionUser(cookie);
      if (!user) return next(refuse('Not signed in, or the session has ended.', 'unauthorized'));
      socket.data.user = user;
      socket.data.cookie = cookie;
      socket.data.projectorToken = null;
      socket.data.projectorHash = null;
      next();
    } catch (err) {
      logger.error({ err }, 'socket handshake failed');
      next(refuse('The server could not check this connection.', 'internal'));
    }
  });

  io.on('connection', (socket) => {
    if (!life.connected(socket)) {
      socket.disconnect(true);
      return;
    }
    socket.on('hello', (payload, ack) => {
      if (typeof ack !== 'function') return;
      const ok = v.is(HelloPayload, payload);
      ack(ok ? { ok: true, msg: 'hello', revision: life.revision() } : ackFor(badRequest('hello takes no payload or an empty object')));
    });
    socket.onAny((event: string, ...args: unknown[]) => {
      if (event === 'hello') return;
      const ack = args[args.length - 1];
      if (typeof ack === 'function') (ack as (a: Ack) => void)(ackFor(notFound(`unknown event "${event}"`)));
    });
    socket.on('disconnect', () => life.disconnected(socket));
  });
}
