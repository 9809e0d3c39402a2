// Users on the wire: the roles, a user as the user admin sees one, who is signed in, and how one
// may sign in. The auth and user routes build these shapes (`satisfies`) and the client reads them
// as they are. Plain constants and types, no imports: the browser bundle takes it as is.

/** labdeck's roles (valibot picklists are built from this list). */
export const roles = ['admin', 'teacher', 'student'] as const;
export type Role = (typeof roles)[number];

/** Who is signed in, as `GET /api/auth/me` and `POST /api/auth/login` answer it (`{ user }`). */
export interface SignedInUser { id: number; username: string; displayName: string; role: Role }
export interface SignedInResponse { user: SignedInUser }

/** A user as the API shows it (no hash, no session version). */
export interface User extends SignedInUser {
  source: string;
  disabled: boolean;
  createdAt: number;
}
/** `GET /api/users` (admins). */
export interface UserListResponse { users: User[] }

/** A cluster whose Proxmox accounts may sign in to labdeck. */
export interface ProxmoxMethod { cluster: string; name: string; realm: string }
/** Demo mode's seeded accounts: the first and last names of the list, and their password. */
export interface DemoAccounts { users: string[]; password: string }
/** `GET /api/auth/methods`: Proxmox choices (none when only labdeck accounts) and demo accounts. */
export interface SignInMethods { local: true; proxmox: ProxmoxMethod[]; demo: DemoAccounts | null }
