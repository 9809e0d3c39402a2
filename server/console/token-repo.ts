// console_tokens: one-time console links, stored as SHA-256 hashes. Redeeming is one conditional
// UPDATE, so of two instances (or two tabs) racing for the same token exactly one wins.
import type { Db } from '../db/index.js';
import type { ConsoleMode } from '../../contract/console.js';
import { hashToken, newToken } from '../auth/tokens.js';

export type { ConsoleMode };

/** What a redeemed token was issued for. */
export interface ConsoleGrant {
  userId: number;
  cluster: string;
  vmid: number;
  mode: ConsoleMode;
  tokenHash: string;
}

export class ConsoleTokenRepo {
  constructor(private readonly db: Db) {}

  /** Stores a new token for the user and VM; returns the raw token (never stored). */
  async issue(g: Omit<ConsoleGrant, 'tokenHash'>, ttlMs: number, now = Date.now()): Promise<{ token: string; tokenHash: string; expiresAt: number }> {
    const token = newToken();
    const tokenHash = hashToken(token);
    const expiresAt = now + ttlMs;
    await this.db.insertInto('console_tokens').values({
      token_hash: tokenHash, user_id: g.userId, cluster_id: g.cluster, vmid: g.vmid, mode: g.mode, created_at: now, expires_at: expiresAt,
    }).execute();
    // Spent and expired tokens are worth nothing; an hour's grace keeps the table small.
    await this.db.deleteFrom('console_tokens').where('expires_at', '<', now - 3_600_000).execute();
    return { token, tokenHash, expiresAt };
  }

  /** Marks the token used and returns its grant; null when unknown, expired or already used. */
  async redeem(token: string, now = Date.now()): Promise<ConsoleGrant | null> {
    const row = await this.db.updateTable('console_tokens').set({ used: 1 })
      .where('token_hash', '=', hashToken(token)).where('used', '=', 0).where('expires_at', '>', now)
      .returning(['token_hash', 'user_id', 'cluster_id', 'vmid', 'mode']).executeTakeFirst();
    if (!row) return null;
    return { userId: row.user_id, cluster: row.cluster_id, vmid: row.vmid, mode: row.mode === 'view' ? 'view' : 'control', tokenHash: row.token_hash };
  }
}
