// Sessions: an iron-session sealed cookie holding the user id and that user's session version.
// Every read checks the version against the user's record (from memory through SessionUsers when
// the server runs one, else the database), so bumping it (sign-out, password change, disable)
// ends all of the user's sessions at once.
import { parse as parseCookie } from 'hono/utils/cookie';
import type { UsersRepo } from './users.js';
import type { SignedInUser } from '../../contract/users.js';
import type { AccessFeed } from './access-feed.js';
import type { SessionUsers } from './session-users.js';

// iron-session (and the iron/crypto code under it) is loaded on the first seal or unseal, not at
// start: demo mode does not carry it until someone signs in. A production server loads it right
// after it starts listening (preloadSessionCrypto), so the first signed-in request after a restart
// (a whole class at once, cookies still valid) does not wait ~25 ms for the module to load.
type Iron = typeof import('iron-session');
let iron: Promise<Iron> | null = null;
const ironSession = (): Promise<Iron> => (iron ??= import('iron-session'));
/** Loads the session crypto now, in the background. */
export function preloadSessionCrypto(): void {
  ironSession().catch(() => { iron = null; });
}

export const SESSION_COOKIE = 'labdeck_session';
const COOKIE_PREFIX = `${SESSION_COOKIE}=`;

/** Who is signed in, as routes and the realtime hub see it (and `GET /api/auth/me` answers it). */
export type SessionUser = SignedInUser;

interface SealedSession { uid: number; sv: number; iat: number }

/** How many unsealed cookies are remembered (oldest forgotten first). */
const UNSEALED_MAX = 10_000;

export interface SessionsOptions {
  users: UsersRepo;
  secret: string;
  ttlSeconds: number;
  feed: AccessFeed;
  /** The in-memory user records (the server's); without it every check reads the database. */
  directory?: SessionUsers;
}

export class Sessions {
  readonly cookieName = SESSION_COOKIE;
  readonly ttlSeconds: number;
  private readonly users: UsersRepo;
  private readonly secret: string;
  private readonly feed: AccessFeed;
  private readonly directory: SessionUsers | undefined;
  /**
   * Seal → its contents. Unsealing (key derivation, HMAC, decryption) was the largest CPU cost of
   * a small read; a seal's contents never change, and expiry and revocation are still checked on
   * every read below.
   */
  private readonly unsealed = new Map<string, Partial<SealedSession>>();

  constructor(opts: SessionsOptions) {
    this.users = opts.users;
    this.secret = opts.secret;
    this.ttlSeconds = opts.ttlSeconds;
    this.feed = opts.feed;
    this.directory = opts.directory;
  }

  /** A fresh sealed cookie value for the user's current session version. */
  async issue(userId: number): Promise<string> {
    const u = await this.users.get(userId);
    if (!u) throw new Error(`no user ${userId}`);
    const data: SealedSession = { uid: u.id, sv: u.sessionVersion, iat: Date.now() };
    const seal = await (await ironSession()).sealData(data, { password: this.secret, ttl: this.ttlSeconds });
    // Its contents are known: the first request after a sign-in (a whole class at the start of a
    // lab) needs no unsealing. Expiry and revocation are checked on every read as for any seal.
    this.remember(seal, data);
    return seal;
  }

  private remember(seal: string, data: Partial<SealedSession>): void {
    if (this.unsealed.size >= UNSEALED_MAX) this.unsealed.delete(this.unsealed.keys().next().value!);
    this.unsealed.set(seal, data);
  }

  /** The signed-in user of a sealed cookie value, or null (expired, tampered, revoked, disabled). */
  async userFromSeal(seal: string | undefined): Promise<SessionUser | null> {
    if (!seal) return null;
    let data = this.unsealed.get(seal);
    if (!data) {
      const { unsealData } = await ironSession();
      try {
        data = await unsealData<Partial<SealedSession>>(seal, { password: this.secret, ttl: this.ttlSeconds });
      } catch {
        return null;
      }
      // Only genuine seals are kept, so made-up cookies cannot fill the memory.
      if (typeof data.uid === 'number') this.remember(seal, data);
    }
    if (typeof data.uid !== 'number' || typeof data.sv !== 'number' || typeof data.iat !== 'number') return null;
    if (Date.now() - data.iat > this.ttlSeconds * 1000) return null;
    const u = this.directory ? await this.directory.get(data.uid) : await this.users.sessionRecord(data.uid);
    if (!u || u.disabled || u.sessionVersion !== data.sv) return null;
    return { id: u.id, username: u.username, displayName: u.displayName, role: u.role };
  }

  /** The signed-in user of a Cookie header (HTTP requests and socket.io handshakes alike). */
  async getSessionUser(cookieHeader: string | undefined): Promise<SessionUser | null> {
    if (!cookieHeader) return null;
    // A header that is just our cookie with a seal already unsealed needs no parsing (hono's
    // parser tests and URI-decodes the whole ~400-character seal: 4 % of a student's list read).
    // A remembered seal is the parser's own output and holds only seal characters, so the parser
    // would answer this same string.
    if (cookieHeader.startsWith(COOKIE_PREFIX) && !cookieHeader.includes(';')) {
      const seal = cookieHeader.slice(COOKIE_PREFIX.length);
      if (this.unsealed.has(seal)) return this.userFromSeal(seal);
    }
    return this.userFromSeal(parseCookie(cookieHeader, SESSION_COOKIE)[SESSION_COOKIE]);
  }

  /**
   * Why a cookie no longer signs anyone in, so the sign-in page can say so: `unreadable` (sealed
   * under another secret: labdeck restarted with a new one, or tampered), `expired`, `disabled`,
   * `revoked` (signed out elsewhere, password or role changed), or `none` (no cookie).
   */
  async endReason(cookieHeader: string | undefined): Promise<'none' | 'unreadable' | 'expired' | 'disabled' | 'revoked'> {
    const seal = cookieHeader ? parseCookie(cookieHeader, SESSION_COOKIE)[SESSION_COOKIE] : undefined;
    if (!seal) return 'none';
    let data: Partial<SealedSession> | undefined = this.unsealed.get(seal);
    if (!data) {
      const { unsealData } = await ironSession();
      try {
        data = await unsealData<Partial<SealedSession>>(seal, { password: this.secret, ttl: this.ttlSeconds });
      } catch {
        return 'unreadable';
      }
    }
    if (typeof data.uid !== 'number' || typeof data.iat !== 'number') return 'unreadable';
    if (Date.now() - data.iat > this.ttlSeconds * 1000) return 'expired';
    const u = await this.users.get(data.uid);
    if (!u) return 'revoked';
    if (u.disabled) return 'disabled';
    return 'revoked';
  }

  /** Ends every session of the user and tells listeners (sockets get disconnected). */
  async revokeAll(userId: number): Promise<void> {
    await this.users.bumpSessionVersion(userId);
    this.announceRevoked(userId);
  }

  /** Tells listeners that a user's sessions ended (after a change that already bumped the version). */
  announceRevoked(userId: number): void {
    this.feed.emit('session:revoked', { userId });
  }
}
