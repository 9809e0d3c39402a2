// Random bearer tokens (invite and projector links): only their SHA-256 hash is stored.
import { createHash, randomBytes } from 'node:crypto';

/** A new URL-safe random token (32 bytes). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The stored form of a token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
