// VNC authentication (RFB security type 2): the server sends 16 random bytes, the client answers
// them DES-encrypted with its password as the key (at most 8 characters, zero-padded, each
// byte's bits mirrored, as every VNC implementation does). The relay answers Proxmox's challenge
// with Proxmox's password and checks the browser's answer against the one-time password it gave
// out. (The simulator has its own copy: it imports nothing from the server.)
import { createCipheriv } from 'node:crypto';

/** Mirrors the bits of a byte (VNC's historical quirk in building the DES key). */
function mirror(b: number): number {
  let out = 0;
  for (let i = 0; i < 8; i++) if (b & (1 << i)) out |= 1 << (7 - i);
  return out;
}

/** The answer to a VNC authentication challenge for a password. */
export function vncResponse(password: string, challenge: Buffer): Buffer {
  const key = Buffer.alloc(8);
  const bytes = Buffer.from(password, 'latin1');
  for (let i = 0; i < 8 && i < bytes.length; i++) key[i] = mirror(bytes[i]);
  // Single DES as triple DES with three equal keys: OpenSSL 3 keeps plain DES in its legacy
  // provider, which Node does not load; E(K, D(K, E(K, x))) = E(K, x).
  const cipher = createCipheriv('des-ede3-ecb', Buffer.concat([key, key, key]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(challenge), cipher.final()]);
}
