// Talking to the running labdeck from the CLI, for commands that change live state (a sync pass,
// a mappings import): they must go through the server so its caches and browsers learn of them.
// The CLI signs a short session for an admin with the same SESSION_SECRET the server uses, so it
// needs the server's environment (e.g. `docker exec` into the container), and no password.
import { DomainError, errorCodes, type ErrorCode } from '../../contract/errors.js';
import type { AppConfig } from '../config.js';
import type { Db } from '../db/index.js';
import { UsersRepo } from '../auth/users.js';
import { Sessions, SESSION_COOKIE } from '../auth/session.js';
import { AccessFeed } from '../auth/access-feed.js';
import { UsageError } from './usage-error.js';

export interface ServerTarget {
  /** Base URL; default from HOST and PORT (0.0.0.0 → 127.0.0.1). */
  url?: string;
  /** Admin to act as; default the first enabled admin. */
  as?: string;
}

/** Where the running server listens, as seen from this machine. */
export function serverUrl(config: AppConfig, explicit?: string): string {
  if (explicit) return explicit.replace(/\/+$/, '');
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/** One JSON request to the running server as an admin; throws UsageError with a plain reason. */
export async function callServer<T = unknown>(config: AppConfig, db: Db, target: ServerTarget, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  if (config.demo) throw new UsageError('demo mode makes a new session secret on every start: commands that talk to the server need LABDECK_CONFIG and SESSION_SECRET');
  const users = new UsersRepo(db);
  const admins = (await users.list({ role: 'admin' })).filter((u) => !u.disabled);
  const admin = target.as ? admins.find((u) => u.username === target.as) : admins[0];
  if (!admin) {
    throw new UsageError(target.as ? `${target.as} is not an enabled admin` : 'no enabled admin user: create one with `npm run labdeck -- user add <name> --role admin`');
  }
  const sessions = new Sessions({ users, secret: config.sessionSecret, ttlSeconds: 300, feed: new AccessFeed() });
  const cookie = `${SESSION_COOKIE}=${await sessions.issue(admin.id)}`;
  const url = `${serverUrl(config, target.url)}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new UsageError(`labdeck is not answering at ${serverUrl(config, target.url)} (${cause}): is it running? give --url otherwise`);
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
  if (res.status === 401) throw new UsageError('the server refused the CLI\'s session: run the CLI with the same SESSION_SECRET and DATABASE_URL as the server');
  if (res.status >= 400) {
    const error = (parsed as { error?: { code?: unknown; message?: string } } | undefined)?.error;
    const msg = `the server answered ${res.status}: ${error?.message ?? text.slice(0, 200)}`;
    // The server's domain error code decides the exit code, as for an error raised in the CLI itself.
    if ((errorCodes as readonly unknown[]).includes(error?.code)) throw new DomainError(error!.code as ErrorCode, msg);
    throw new UsageError(msg);
  }
  return { status: res.status, body: parsed as T };
}
