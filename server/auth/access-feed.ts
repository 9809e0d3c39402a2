// Typed announcements of access changes, so the realtime hub can recompute rooms and end sockets.
import { EventEmitter } from 'node:events';

export interface AccessChanged { userIds: number[]; classIds: number[] }
export interface SessionRevoked { userId: number }
/** `token` is present when the raw token was at hand (explicit revoke); `tokenHash` always. */
export interface ProjectorRevoked { token?: string; tokenHash: string; classId: number }

export interface AccessEvents {
  'access:changed': [AccessChanged];
  'session:revoked': [SessionRevoked];
  'projector:revoked': [ProjectorRevoked];
}

/** One feed per server process. */
export class AccessFeed extends EventEmitter<AccessEvents> {
  constructor() {
    super();
    this.setMaxListeners(100);
  }
}
