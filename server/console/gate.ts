// The browser side of a VNC console: labdeck answers the RFB version and VNC authentication
// itself, with the one-time password it gave out, before the browser's bytes reach Proxmox; and
// for a view-only console it lets through only what reading the screen needs (no keys, pointer,
// clipboard or resize).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { ByteQueue } from './byte-queue.js';
import { vncResponse } from './vnc-auth.js';

/**
 * Runs the server half of the RFB handshake up to the browser's VNC authentication answer.
 * Success is not answered here: Proxmox's own SecurityResult (to labdeck's answer) follows.
 */
export async function vncGate(browser: WebSocket, queue: ByteQueue, password: string): Promise<boolean> {
  browser.send(Buffer.from('RFB 003.008\n', 'latin1'));
  const version = (await queue.read(12)).toString('latin1');
  if (!/^RFB 003\.00[78]\n$/.test(version)) return false;
  browser.send(Buffer.from([1, 2]));
  if ((await queue.read(1))[0] !== 2) return false;
  const challenge = randomBytes(16);
  browser.send(challenge);
  const answer = await queue.read(16);
  if (!timingSafeEqual(answer, vncResponse(password, challenge))) {
    const reason = Buffer.from('Authentication failure', 'latin1');
    const out = Buffer.alloc(8 + reason.length);
    out.writeUInt32BE(1, 0);
    out.writeUInt32BE(reason.length, 4);
    reason.copy(out, 8);
    browser.send(out);
    return false;
  }
  return true;
}

/** Sizes of client messages; null when more bytes are needed, -1 for a type we do not know. */
function messageSize(b: Buffer): number | null {
  if (b.length < 1) return null;
  switch (b[0]) {
    case 0: return 20;
    case 2: return b.length < 4 ? null : 4 + 4 * b.readUInt16BE(2);
    case 3: return 10;
    case 4: return 8;
    case 5: return 6;
    case 6: return b.length < 8 ? null : 8 + Math.abs(b.readInt32BE(4));
    case 150: return 10;
    case 248: return b.length < 9 ? null : 9 + b[8];
    case 251: return b.length < 7 ? null : 8 + 16 * b[6];
    case 255: {
      if (b.length < 2) return null;
      if (b[1] === 0) return 12;
      if (b[1] === 1) return b.length < 4 ? null : b.readUInt16BE(2) === 2 ? 10 : 4;
      return -1;
    }
    default: return -1;
  }
}

/** Input: keys, pointer, clipboard, resize, QEMU extended keys. */
const isInput = (b: Buffer): boolean => [4, 5, 6, 251].includes(b[0]) || (b[0] === 255 && b[1] === 0);

/** Filters a view-only viewer's RFB stream: what reading needs passes, input is dropped. */
export class ViewOnlyFilter {
  private buf: Buffer = Buffer.alloc(0);

  /** The bytes to pass on; null when the stream holds something unknown (close it). */
  push(data: Buffer): Buffer | null {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    const keep: Buffer[] = [];
    for (;;) {
      const size = messageSize(this.buf);
      if (size === -1) return null;
      if (size === null || this.buf.length < size) break;
      const m = this.buf.subarray(0, size);
      if (!isInput(m)) keep.push(Buffer.from(m));
      this.buf = this.buf.subarray(size);
    }
    return Buffer.concat(keep);
  }
}
