// The picture a simulated guest shows on its console: easy to recognise in a test (a blue banner,
// the vmid as a row of black and white bars, a checkerboard) and changing when keys are pressed
// (each key press adds a block whose colour comes from the key, and flips the corner counter).
// Kept as 24-bit RGB; the RFB server converts to whatever pixel format the client asked for.

export const FB_WIDTH = 640;
export const FB_HEIGHT = 400;

/** The banner colour across the top: what tests look for. */
export const BANNER_RGB: readonly [number, number, number] = [0x1f, 0x4f, 0xd1];
/** Where key blocks go, and how large they are. */
export const KEY_ROW_Y = 320;
export const KEY_BLOCK = 20;
const KEYS_PER_ROW = FB_WIDTH / KEY_BLOCK;
/** The corner counter, which toggles between two colours on every key press. */
export const COUNTER_RECT = { x: FB_WIDTH - 60, y: 0, w: 60, h: 40 } as const;
export const COUNTER_RGB: readonly [readonly [number, number, number], readonly [number, number, number]] = [[0xf5, 0xc2, 0x11], [0xe0, 0x3b, 0x24]];

export interface Rect { x: number; y: number; w: number; h: number }

/** The colour a key paints (pure): distinct for neighbouring keysyms. */
export function keyColour(keysym: number): [number, number, number] {
  const h = Math.imul(keysym ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return [64 + (h & 0xbf), 64 + ((h >>> 8) & 0xbf), 64 + ((h >>> 16) & 0xbf)];
}

/** One guest's screen. */
export class Framebuffer {
  readonly width = FB_WIDTH;
  readonly height = FB_HEIGHT;
  readonly rgb = new Uint8Array(FB_WIDTH * FB_HEIGHT * 3);
  private keys = 0;
  private readonly watchers = new Set<(changed: Rect[]) => void>();

  constructor(readonly vmid: number) {
    this.paintBackground();
  }

  /** Calls `fn` with the changed areas after every change; returns the way to stop. */
  watch(fn: (changed: Rect[]) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /** Number of key presses seen. */
  get keyCount(): number {
    return this.keys;
  }

  private fill(r: Rect, [cr, cg, cb]: readonly [number, number, number]): void {
    for (let y = r.y; y < r.y + r.h; y++) {
      for (let x = r.x; x < r.x + r.w; x++) {
        const i = (y * this.width + x) * 3;
        this.rgb[i] = cr;
        this.rgb[i + 1] = cg;
        this.rgb[i + 2] = cb;
      }
    }
  }

  private paintBackground(): void {
    // A soft vertical gradient, so that a stretched or shifted picture is visible at once.
    for (let y = 0; y < this.height; y++) this.fill({ x: 0, y, w: this.width, h: 1 }, [24, 28 + Math.floor(y / 8), 40 + Math.floor(y / 5)]);
    this.fill({ x: 0, y: 0, w: this.width, h: 40 }, BANNER_RGB);
    this.fill(COUNTER_RECT, COUNTER_RGB[0]);
    // The vmid in binary, most significant bit first: 24 bars, white for 1.
    for (let bit = 0; bit < 24; bit++) {
      const on = (this.vmid >>> (23 - bit)) & 1;
      this.fill({ x: 20 + bit * 20, y: 80, w: 16, h: 60 }, on ? [255, 255, 255] : [0, 0, 0]);
    }
    for (let cy = 0; cy < 8; cy++) {
      for (let cx = 0; cx < 16; cx++) this.fill({ x: 160 + cx * 20, y: 170 + cy * 16, w: 20, h: 16 }, (cx + cy) % 2 ? [200, 200, 200] : [90, 90, 90]);
    }
  }

  /** Paints a key press; returns the areas that changed. */
  pressKey(keysym: number): Rect[] {
    const slot = this.keys % (KEYS_PER_ROW * 3);
    this.keys++;
    const block = { x: (slot % KEYS_PER_ROW) * KEY_BLOCK, y: KEY_ROW_Y + Math.floor(slot / KEYS_PER_ROW) * KEY_BLOCK, w: KEY_BLOCK, h: KEY_BLOCK };
    this.fill(block, keyColour(keysym));
    this.fill(COUNTER_RECT, COUNTER_RGB[this.keys % 2]);
    const changed = [block, { ...COUNTER_RECT }];
    for (const fn of this.watchers) fn(changed);
    return changed;
  }
}

/** The smallest rectangle holding both (pure). */
export function union(a: Rect, b: Rect): Rect {
  const x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

/** The overlap of two rectangles, or null (pure). */
export function intersect(a: Rect, b: Rect): Rect | null {
  const x = Math.max(a.x, b.x), y = Math.max(a.y, b.y);
  const w = Math.min(a.x + a.w, b.x + b.w) - x, h = Math.min(a.y + a.h, b.y + b.h) - y;
  return w > 0 && h > 0 ? { x, y, w, h } : null;
}
