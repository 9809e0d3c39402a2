// Talking to the running labdeck from the CLI, for commands that change live state (a sync pass,
// a mappings import): they must go through the server so its caches and browsers learn of them.
// The CLI signs a short session for an admin with the same SESSION_SECRET the server uses, so it
// needs the server's environment (e.g. `docker exec` into the container), and no password.
import * as v from 'valibot';
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
  /** Send the admin session to a `url` that is neither loopback nor publicUrl (the admin vouches for it). */
  insecureUrl?: boolean;
  /** Admin to act as; default the first enabled admin. */
  as?: string;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Refuses to send an admin session to a `--url` that is not this machine (loopback) or labdeck's
 * configured publicUrl, unless `--insecure-url` says the admin trusts it: a mistyped or planted
 * address would otherwise receive a fresh admin session (pure).
 */
export function checkTargetUrl(config: Pick<AppConfig, 'publicUrl'>, url: string, insecure = false): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url.slice(0, 200))} is not a URL (like http://127.0.0.1:8080)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url must start with http:// or https://, not ${u.protocol}`);
  if (u.username || u.password) throw new UsageError('--url must not carry a user or password');
  if (insecure || LOOPBACK.test(u.hostname) || (config.publicUrl !== undefined && u.origin === config.publicUrl)) return;
  throw new UsageError(`--url ${u.origin} is neither this machine (loopback) nor labdeck's publicUrl (${config.publicUrl ?? 'not set'}); `
    + 'the CLI would send it an admin session. Use one of those, or add --insecure-url if you trust that address');
}

/** An answer the CLI did not expect, described plainly (status, type, the start of the body). */
function unexpected(base: string, res: Response, text: string, what: string): UsageError {
  const type = res.headers.get('content-type') ?? 'no content type';
  const start = text.slice(0, 120).replace(/\s+/g, ' ').trim();
  return new UsageError(`the server at ${base} answered ${res.status} with ${what} (${type}${start ? `: ${start}` : ''}): is that labdeck? check --url, HOST and PORT`);
}

/** Where the running server listens, as seen from this machine. */
export function serverUrl(config: AppConfig, explicit?: string): string {
  if (explicit) return explicit.replace(/\/+$/, '');
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/**
 * One JSON request to the running server as an admin; throws UsageError with a plain reason. The
 * answer must match `shape`: anything else (an HTML page, a redirect, another program on the
 * port) is reported as unexpected, never crashes the CLI.
 */
export async function callServer<S extends v.GenericSchema>(config: AppConfig, db: Db, target: ServerTarget, method: string, path: string, body: unknown, shape: S): Promise<{ status: number; body: v.InferOutput<S> }> {
  if (config.demo) throw new UsageError('demo mode makes a new session secret on every start: commands that talk to the server need LABDECK_CONFIG and SESSION_SECRET');
  if (target.url !== undefined) checkTargetUrl(config, target.url, target.insecureUrl);
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
      // A redirect would carry the session cookie to wherever it points.
      redirect: 'manual',
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new UsageError(`labdeck is not answering at ${serverUrl(config, target.url)} (${cause}): is it running? give --url otherwise`);
  }
  const base = serverUrl(config, target.url);
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new UsageError(`the server at ${base} stopped answering half-way (${(err as Error).message})`);
  }
  let parsed: unknown = undefined;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
  if (res.status >= 300 && res.status < 400) {
    throw new UsageError(`the server at ${base} answered a redirect (${res.status} to ${(res.headers.get('location') ?? 'nowhere').slice(0, 120)}); the CLI does not follow it with an admin session: give --url the address labdeck answers at`);
  }
  if (res.status === 401) throw new UsageError('the server refused the CLI\'s session: run the CLI with the same SESSION_SECRET and DATABASE_URL as the server');
  if (res.status >= 400) {
    const error = v.safeParse(ErrorAnswer, parsed);
    if (!error.success) throw unexpected(base, res, text, 'an error that is not labdeck\'s');
    const msg = `the server answered ${res.status}: ${error.output.error.message.slice(0, 300)}`;
    // The server's domain error code decides the exit code, as for an error raised in the CLI itself.
    if ((errorCodes as readonly unknown[]).includes(error.output.error.code)) throw new DomainError(error.output.error.code as ErrorCode, msg);
    throw new UsageError(msg);
  }
  const ok = v.safeParse(shape, parsed);
  if (!ok.success) throw unexpected(base, res, text, parsed === undefined ? 'something that is not JSON' : 'JSON the CLI does not know');
  return { status: res.status, body: ok.output };
}

const ErrorAnswer = v.object({ error: v.object({ code: v.string(), message: v.string() }) });
