// Random bearer tokens (invite and projector links): their SHA-256 hash authenticates them; a copy
// sealed with a key derived from the session secret lets the class page show the link again.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** A new URL-safe random token (32 bytes). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The stored form of a token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A 32-byte key for sealing link tokens, derived from the session secret. */
export function linkKey(secret: string): Buffer {
  return createHash('sha256').update(`labdeck link tokens\0${secret}`).digest();
}

/** Seals a token (AES-256-GCM): `iv.tag.ciphertext`, base64url. */
export function sealToken(token: string, key: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([c.update(token, 'utf8'), c.final()]);
  return [iv, c.getAuthTag(), data].map((b) => b.toString('base64url')).join('.');
}

/** Opens a sealed token; null when it was sealed with another key (a new session secret) or is damaged. */
export function unsealToken(sealed: string, key: Buffer): string | null {
  const [iv, tag, data] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
  if (!iv || !tag || !data || iv.length !== 12 || tag.length !== 16) return null;
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(data), d.final()]).toString('utf8');
  } catch {
    return null;
  }
}
