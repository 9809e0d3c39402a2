// A minimal RFB 3.8 client speaking as noVNC does (VNC authentication, its pixel format: 32 bpp,
// red in the low byte, raw encoding), for tests and the bench to drive a console through a
// WebSocket: the handshake, framebuffer updates as RGB pixels, key presses.
import type { WebSocket } from 'ws';
import { vncResponse } from './vnc-auth.js';

export interface ServerInit { width: number; height: number; name: string }
export interface UpdateRect { x: number; y: number; w: number; h: number; rgb: Uint8Array }

type Waiter = { need: number; resolve: (b: Buffer) => void };

/** Reads exact byte counts from a WebSocket's binary stream. */
class ByteReader {
  private buf = Buffer.alloc(0);
  private waiter: Waiter | null = null;
  private failed: Error | null = null;
  private rejecters = new Set<(e: Error) => void>();

  constructor(ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.buf = Buffer.concat([this.buf, data]);
      this.pump();
    });
    ws.on('close', (code: number, reason: Buffer) => this.fail(new Error(`connection closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`)));
    ws.on('error', (e: Error) => this.fail(e));
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const r of this.rejecters) r(this.failed);
    this.rejecters.clear();
  }

  private pump(): void {
    const w = this.waiter;
    if (w && this.buf.length >= w.need) {
      this.waiter = null;
      const out = this.buf.subarray(0, w.need);
      this.buf = this.buf.subarray(w.need);
      w.resolve(Buffer.from(out));
    }
  }

  /** The next `n` bytes. */
  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.buf.length < n && this.failed) return reject(this.failed);
      const done = (b: Buffer) => {
        this.rejecters.delete(reject);
        resolve(b);
      };
      this.rejecters.add(reject);
      this.waiter = { need: n, resolve: done };
      this.pump();
    });
  }
}

/** One RFB session over an open WebSocket. */
export class RfbClient {
  private readonly reader: ByteReader;

  constructor(private readonly ws: WebSocket) {
    this.reader = new ByteReader(ws);
  }

  /** Version, VNC authentication with `password`, ClientInit; resolves with ServerInit. */
  async handshake(password: string): Promise<ServerInit> {
    const version = (await this.reader.read(12)).toString('latin1');
    if (version !== 'RFB 003.008\n') throw new Error(`unexpected version ${JSON.stringify(version)}`);
    this.ws.send(Buffer.from('RFB 003.008\n', 'latin1'));
    const count = (await this.reader.read(1))[0];
    const types = [...(await this.reader.read(count))];
    if (!types.includes(2)) throw new Error(`no VNC authentication offered (${types.join(',')})`);
    this.ws.send(Buffer.from([2]));
    const challenge = await this.reader.read(16);
    this.ws.send(vncResponse(password, challenge));
    const result = (await this.reader.read(4)).readUInt32BE(0);
    if (result !== 0) {
      const len = (await this.reader.read(4)).readUInt32BE(0);
      throw new Error(`authentication failed: ${(await this.reader.read(len)).toString('latin1')}`);
    }
    this.ws.send(Buffer.from([1]));
    const init = await this.reader.read(24);
    const name = (await this.reader.read(init.readUInt32BE(20))).toString('utf8');
    // noVNC's pixel format: 32 bpp, depth 24, little endian, red at bit 0.
    const pf = Buffer.alloc(20);
    pf.writeUInt8(0, 0);
    pf.writeUInt8(32, 4);
    pf.writeUInt8(24, 5);
    pf.writeUInt8(0, 6);
    pf.writeUInt8(1, 7);
    pf.writeUInt16BE(255, 8);
    pf.writeUInt16BE(255, 10);
    pf.writeUInt16BE(255, 12);
    pf.writeUInt8(0, 14);
    pf.writeUInt8(8, 15);
    pf.writeUInt8(16, 16);
    const enc = Buffer.alloc(8);
    enc.writeUInt8(2, 0);
    enc.writeUInt16BE(1, 2);
    enc.writeInt32BE(0, 4);
    this.ws.send(Buffer.concat([pf, enc]));
    return { width: init.readUInt16BE(0), height: init.readUInt16BE(2), name };
  }

  /** Asks for an update of the area and resolves with the next FramebufferUpdate's rectangles. */
  async update(incremental: boolean, area: { x: number; y: number; w: number; h: number }): Promise<UpdateRect[]> {
    const req = Buffer.alloc(10);
    req.writeUInt8(3, 0);
    req.writeUInt8(incremental ? 1 : 0, 1);
    req.writeUInt16BE(area.x, 2);
    req.writeUInt16BE(area.y, 4);
    req.writeUInt16BE(area.w, 6);
    req.writeUInt16BE(area.h, 8);
    this.ws.send(req);
    return this.readUpdate();
  }

  /** Reads one FramebufferUpdate (raw rectangles only). */
  async readUpdate(): Promise<UpdateRect[]> {
    const head = await this.reader.read(4);
    if (head[0] !== 0) throw new Error(`unexpected server message ${head[0]}`);
    const rects: UpdateRect[] = [];
    for (let n = head.readUInt16BE(2); n > 0; n--) {
      const r = await this.reader.read(12);
      const x = r.readUInt16BE(0), y = r.readUInt16BE(2), w = r.readUInt16BE(4), h = r.readUInt16BE(6);
      if (r.readInt32BE(8) !== 0) throw new Error(`unexpected encoding ${r.readInt32BE(8)}`);
      const px = await this.reader.read(w * h * 4);
      const rgb = new Uint8Array(w * h * 3);
      for (let i = 0, j = 0; i < px.length; i += 4, j += 3) {
        rgb[j] = px[i];
        rgb[j + 1] = px[i + 1];
        rgb[j + 2] = px[i + 2];
      }
      rects.push({ x, y, w, h, rgb });
    }
    return rects;
  }

  /** Presses and releases a key. */
  key(keysym: number): void {
    const msg = Buffer.alloc(16);
    msg.writeUInt8(4, 0);
    msg.writeUInt8(1, 1);
    msg.writeUInt32BE(keysym, 4);
    msg.writeUInt8(4, 8);
    msg.writeUInt8(0, 9);
    msg.writeUInt32BE(keysym, 12);
    this.ws.send(msg);
  }
}

/** The RGB of one pixel in a rectangle (absolute coordinates). */
export function pixelAt(r: UpdateRect, x: number, y: number): [number, number, number] {
  const i = ((y - r.y) * r.w + (x - r.x)) * 3;
  return [r.rgb[i], r.rgb[i + 1], r.rgb[i + 2]];
}
