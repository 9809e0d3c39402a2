// Who is signed in: `GET /api/auth/me`, sign-in and sign-out. The answers are the server's own
// types (contract/users.ts).
import { apiGet, apiPost, ApiError } from './api.js';
import type { DemoAccounts, ProxmoxMethod, Role, SignedInResponse, SignedInUser, SignInMethods } from '../../../contract/users.js';

export type { DemoAccounts, ProxmoxMethod, Role };
export type User = SignedInUser;

/** The signed-in user of an answer, named by their username when they have no display name. */
function userOf({ user }: SignedInResponse): User {
  return { ...user, displayName: user.displayName || user.username };
}

/** Why the last session check found nobody signed in (the server's reason; `none`: no session at all). */
export let endedReason: string = 'none';

/** The current user, or null when nobody is signed in. */
export async function currentUser(): Promise<User | null> {
  try {
    return userOf(await apiGet<SignedInResponse>('/api/auth/me'));
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      endedReason = err.reason ?? 'none';
      return null;
    }
    throw err;
  }
}

/** What the sign-in page says about a session that ended (null: say nothing). */
export function endedText(reason: string | null): string | null {
  switch (reason) {
    case 'unreadable': return 'You were signed out because labdeck was restarted or your sign-in had run out. Please sign in again.';
    case 'expired': return 'Your session ran out. Please sign in again.';
    case 'disabled': return 'Your account has been disabled. Ask an admin if this is a mistake.';
    case 'revoked': return 'You were signed out: you signed out on another device, or your password or role was changed. Please sign in again.';
    default: return null;
  }
}

/** How one may sign in: Proxmox choices (none when only labdeck accounts) and demo accounts. */
export async function signInMethods(): Promise<{ proxmox: ProxmoxMethod[]; demo: DemoAccounts | null }> {
  try {
    const { proxmox, demo } = await apiGet<SignInMethods>('/api/auth/methods');
    return { proxmox, demo };
  } catch {
    return { proxmox: [], demo: null };
  }
}

/** Signs in (through a cluster's Proxmox accounts when `cluster` is given); throws ApiError with the server's message when refused. */
export async function signIn(username: string, password: string, cluster?: string): Promise<User> {
  const user = userOf(await apiPost<SignedInResponse>('/api/auth/login', cluster ? { username, password, cluster } : { username, password }));
  endedReason = 'none';
  return user;
}

let reissuing: Promise<unknown> = Promise.resolve();

/** Changes the password; the server ends every session of the user and sends this tab a new cookie. */
export function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  const p = apiPost<void>('/api/auth/password', { currentPassword, newPassword });
  reissuing = p.catch(() => undefined);
  return p;
}

/** Resolves once no request that replaces this tab's cookie is under way: the server may close the
 * socket (sessions revoked) before the answer carrying the new cookie has arrived. */
export function cookieSettled(): Promise<unknown> {
  return reissuing;
}

/** Signs out (the cookie is cleared by the server). */
export async function signOut(): Promise<void> {
  await apiPost('/api/auth/logout');
}

/** Where a user lands after sign-in. */
export function homeFor(user: User): string {
  if (user.role === 'student') return '/my';
  if (user.role === 'teacher') return '/classes';
  return '/admin/sync';
}
