// A small real RFB 3.8 server (RFC 6143) for one console connection to a simulated qemu guest,
// as QEMU's VNC server answers behind `qm vncproxy`: ProtocolVersion "RFB 003.008", security
// type 2 (VNC authentication with the password vncproxy handed out), ServerInit with the guest's
// name, then raw-encoded framebuffer updates in the pixel format the client asked for. Key
// presses change the picture; incremental update requests wait until something changed.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { vncResponse } from './vnc-auth.js';
import { intersect, type Framebuffer, type Rect } from './framebuffer.js';

/** The byte stream the server talks over (a WebSocket behind the simulated pveproxy). */
export interface ByteLink {
  send(data: Buffer): void;
  close(): void;
}

interface PixelFormat {
  bpp: number;
  bigEndian: boolean;
  redMax: number; greenMax: number; blueMax: number;
  redShift: number; greenShift: number; blueShift: number;
}

/** What ServerInit announces: 32 bits per pixel, depth 24, little endian, RGB in bits 16/8/0. */
const SERVER_FORMAT: PixelFormat = { bpp: 32, bigEndian: false, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 };

type Phase = 'version' | 'security' | 'auth' | 'init' | 'normal' | 'closed';

/** Client-to-server message sizes that do not depend on their contents. */
const FIXED_SIZES: Record<number, number> = { 0: 20, 3: 10, 4: 8, 5: 6 };

/** One RFB session. Feed it the client's bytes with `receive`. */
export class RfbServer {
  private phase: Phase = 'version';
  private buf: Buffer = Buffer.alloc(0);
  private readonly challenge = randomBytes(16);
  private format: PixelFormat = SERVER_FORMAT;
  private dirty: Rect[] = [];
  /** An incremental request waiting for a change. */
  private waiting: Rect | null = null;
  /** Bytes of framebuffer updates sent (the bench reads it). */
  bytesSent = 0;
  private readonly unwatch: () => void;

  constructor(
    private readonly link: ByteLink,
    private readonly fb: Framebuffer,
    private readonly name: string,
    private readonly password: string,
  ) {
    // Every viewer of the guest sees every change, whoever typed.
    this.unwatch = fb.watch((rects) => this.changed(rects));
    this.write(Buffer.from('RFB 003.008\n', 'latin1'));
  }

  private write(b: Buffer): void {
    if (this.phase !== 'closed') this.link.send(b);
  }

  /** Ends the session (guest stopped, protocol error). */
  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.unwatch();
    this.link.close();
  }

  private fail(reason: string): void {
    const text = Buffer.from(reason, 'latin1');
    const out = Buffer.alloc(8 + text.length);
    out.writeUInt32BE(1, 0);
    out.writeUInt32BE(text.length, 4);
    text.copy(out, 8);
    this.write(out);
    this.close();
  }

  /** Bytes from the client. */
  receive(data: Buffer): void {
    if (this.phase === 'closed') return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    for (;;) {
      const used = this.step();
      if (used === 0 || (this.phase as Phase) === 'closed') return;
      this.buf = this.buf.subarray(used);
    }
  }

  /** Handles one complete unit at the head of the buffer; returns the bytes it used (0: need more). */
  private step(): number {
    const b = this.buf;
    switch (this.phase) {
      case 'version': {
        if (b.length < 12) return 0;
        const v = b.subarray(0, 12).toString('latin1');
        if (!/^RFB 003\.00[78]\n$/.test(v)) {
          this.close();
          return 12;
        }
        // Version 3.7 and 3.8 both get the list of security types.
        this.write(Buffer.from([1, 2]));
        this.phase = 'security';
        return 12;
      }
      case 'security': {
        if (b.length < 1) return 0;
        if (b[0] !== 2) {
          this.fail('security type not supported');
          return 1;
        }
        this.write(this.challenge);
        this.phase = 'auth';
        return 1;
      }
      case 'auth': {
        if (b.length < 16) return 0;
        const want = vncResponse(this.password, this.challenge);
        if (!timingSafeEqual(want, b.subarray(0, 16))) {
          this.fail('Authentication failure');
          return 16;
        }
        this.write(Buffer.from([0, 0, 0, 0]));
        this.phase = 'init';
        return 16;
      }
      case 'init': {
        if (b.length < 1) return 0;
        this.write(this.serverInit());
        this.phase = 'normal';
        return 1;
      }
      case 'normal':
        return this.message(b);
      default:
        return 0;
    }
  }

  private serverInit(): Buffer {
    const name = Buffer.from(this.name, 'utf8');
    const out = Buffer.alloc(24 + name.length);
    out.writeUInt16BE(this.fb.width, 0);
    out.writeUInt16BE(this.fb.height, 2);
    const f = SERVER_FORMAT;
    out.writeUInt8(f.bpp, 4);
    out.writeUInt8(24, 5);
    out.writeUInt8(f.bigEndian ? 1 : 0, 6);
    out.writeUInt8(1, 7);
    out.writeUInt16BE(f.redMax, 8);
    out.writeUInt16BE(f.greenMax, 10);
    out.writeUInt16BE(f.blueMax, 12);
    out.writeUInt8(f.redShift, 14);
    out.writeUInt8(f.greenShift, 15);
    out.writeUInt8(f.blueShift, 16);
    out.writeUInt32BE(name.length, 20);
    name.copy(out, 24);
    return out;
  }

  private message(b: Buffer): number {
    if (b.length < 1) return 0;
    const type = b[0];
    let size = FIXED_SIZES[type];
    if (type === 2) {
      if (b.length < 4) return 0;
      size = 4 + 4 * b.readUInt16BE(2);
    } else if (type === 6) {
      if (b.length < 8) return 0;
      // Extended clipboard messages carry a negative length.
      size = 8 + Math.abs(b.readInt32BE(4));
    }
    if (size === undefined) {
      this.close();
      return 0;
    }
    if (b.length < size) return 0;
    const m = b.subarray(0, size);
    if (type === 0) this.setPixelFormat(m);
    else if (type === 3) this.updateRequest(m[1] !== 0, { x: m.readUInt16BE(2), y: m.readUInt16BE(4), w: m.readUInt16BE(6), h: m.readUInt16BE(8) });
    else if (type === 4 && m[1] !== 0) this.fb.pressKey(m.readUInt32BE(4));
    return size;
  }

  private setPixelFormat(m: Buffer): void {
    const bpp = m[4];
    const trueColour = m[7] !== 0;
    if (![8, 16, 32].includes(bpp) || !trueColour) {
      this.close();
      return;
    }
    this.format = {
      bpp, bigEndian: m[6] !== 0, redMax: m.readUInt16BE(8), greenMax: m.readUInt16BE(10), blueMax: m.readUInt16BE(12),
      redShift: m[14], greenShift: m[15], blueShift: m[16],
    };
  }

  private clip(r: Rect): Rect | null {
    return intersect(r, { x: 0, y: 0, w: this.fb.width, h: this.fb.height });
  }

  private updateRequest(incremental: boolean, area: Rect): void {
    const want = this.clip(area);
    if (!want) return;
    if (!incremental) {
      this.dirty = this.dirty.filter((d) => !intersect(d, want));
      this.sendUpdate([want]);
      return;
    }
    const ready = this.dirty.map((d) => intersect(d, want)).filter((r): r is Rect => r !== null);
    if (ready.length === 0) {
      this.waiting = want;
      return;
    }
    this.dirty = [];
    this.sendUpdate(ready);
  }

  private changed(rects: Rect[]): void {
    if (this.phase !== 'normal') return;
    this.dirty.push(...rects);
    // Many small changes: one full-screen rectangle is cheaper than a long list.
    if (this.dirty.length > 16) this.dirty = [{ x: 0, y: 0, w: this.fb.width, h: this.fb.height }];
    if (this.waiting) {
      const want = this.waiting;
      this.waiting = null;
      this.updateRequest(true, want);
    }
  }

  private sendUpdate(rects: Rect[]): void {
    const bytesPerPixel = this.format.bpp / 8;
    let total = 4;
    for (const r of rects) total += 12 + r.w * r.h * bytesPerPixel;
    const out = Buffer.alloc(total);
    out.writeUInt8(0, 0);
    out.writeUInt16BE(rects.length, 2);
    let at = 4;
    for (const r of rects) {
      out.writeUInt16BE(r.x, at);
      out.writeUInt16BE(r.y, at + 2);
      out.writeUInt16BE(r.w, at + 4);
      out.writeUInt16BE(r.h, at + 6);
      out.writeInt32BE(0, at + 8);
      at = this.encodeRaw(out, at + 12, r);
    }
    this.bytesSent += out.length;
    this.write(out);
  }

  private encodeRaw(out: Buffer, at: number, r: Rect): number {
    const f = this.format;
    const rgb = this.fb.rgb;
    const bytes = f.bpp / 8;
    for (let y = r.y; y < r.y + r.h; y++) {
      let i = (y * this.fb.width + r.x) * 3;
      for (let x = 0; x < r.w; x++, i += 3) {
        const px = ((Math.round((rgb[i] * f.redMax) / 255) << f.redShift)
          | (Math.round((rgb[i + 1] * f.greenMax) / 255) << f.greenShift)
          | (Math.round((rgb[i + 2] * f.blueMax) / 255) << f.blueShift)) >>> 0;
        if (bytes === 4) {
          if (f.bigEndian) out.writeUInt32BE(px, at);
          else out.writeUInt32LE(px, at);
        } else if (bytes === 2) {
          if (f.bigEndian) out.writeUInt16BE(px & 0xffff, at);
          else out.writeUInt16LE(px & 0xffff, at);
        } else out[at] = px & 0xff;
        at += bytes;
      }
    }
    return at;
  }
}
