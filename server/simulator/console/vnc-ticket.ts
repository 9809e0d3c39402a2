// VNC tickets as PVE::AccessControl makes them: `PVEVNC:<hex time>::<signature>`, the signature
// over the plain part plus `user:path:port`, so a ticket is good only for the caller that asked
// for it (an API token's tickets belong to `user@realm!token`), one guest and one port, and only
// between 20 s before and 40 s after it was made. Real PVE signs with the cluster's RSA key; an
// HMAC keeps the same binding here. Also the 8-character VNC password of `vncproxy`.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const MIN_AGE_S = -20;
const MAX_AGE_S = 40;

/** Signs and checks the short-lived console tickets of one cluster. */
export class VncTickets {
  private readonly key = randomBytes(32);

  private sign(plain: string, secret: string): string {
    return createHmac('sha256', this.key).update(`${plain}:${secret}`).digest('base64');
  }

  /** A ticket for `user` on `path` (e.g. `/vms/100`) and `port`. */
  assemble(user: string, path: string, port: number, nowMs = Date.now()): string {
    const plain = `PVEVNC:${Math.floor(nowMs / 1000).toString(16).toUpperCase().padStart(8, '0')}`;
    return `${plain}::${this.sign(plain, `${user}:${path}:${port}`)}`;
  }

  /**
   * Whether the ticket was made for exactly this user, path and port and is still young enough.
   * Like verify_vnc_ticket, a `<8 chars>:` password prefix (the older answer format) is ignored.
   */
  verify(ticket: string, user: string, path: string, port: number, nowMs = Date.now()): boolean {
    const bare = /^.{8}:(PVEVNC:.*)$/.exec(ticket)?.[1] ?? ticket;
    const m = /^(PVEVNC:([A-Z0-9]{8}))::([^:\s]+)$/.exec(bare);
    if (!m) return false;
    const want = Buffer.from(this.sign(m[1], `${user}:${path}:${port}`));
    const got = Buffer.from(m[3]);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return false;
    const age = nowMs / 1000 - parseInt(m[2], 16);
    return age > MIN_AGE_S && age < MAX_AGE_S;
  }
}

/** PVE::Ticket::generate_vnc_password: 8 random characters from '!' to '`'. */
export function generateVncPassword(): string {
  const span = 0x60 - 0x21 + 1;
  return [...randomBytes(8)].map((b) => String.fromCharCode(0x21 + (b % span))).join('');
}
