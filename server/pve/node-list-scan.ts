// A node's guest list read straight from its bytes: the sweeps read about a hundred of these
// ~100 kB answers per cluster per minute, and need only vmid, status and uptime of each entry.
// JSON.parse would decode every answer into a string and build some twenty properties per guest,
// nearly all of it garbage a moment later (most of labdeck's idle allocation). This walks the
// bytes once, checks the JSON grammar as it goes, and takes only the three values. Anything it is
// not sure of (not JSON, a shape other than {"data": [objects]}) it declines (null): the caller
// then reads the answer the ordinary way, so the outcome is the same as JSON.parse's either way.
import { normaliseStatus } from './normalise.js';
import { NodeGuestColumns, type NodeGuest } from './signals.js';

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d;
const MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e, ZERO = 0x30, NINE = 0x39;

/** Bytes a string holds as they are: not a quote, a backslash or a control character. */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 256; c++) PLAIN[c] = c === QUOTE || c === BACKSLASH ? 0 : 1;

/** Thrown inside the scan for anything it declines; never leaves this module. */
const DECLINE = new Error('declined');

/** A value the scan took: a string, a number, or anything else (which none of the three fields can use). */
type Taken = string | number | null;
const OTHER = null;

class Scan {
  i = 0;
  /** The last string's raw content [start, end) and whether it has escapes (fields, not an object per string). */
  start = 0;
  end = 0;
  escaped = false;
  constructor(readonly b: Buffer) {}

  ws(): void {
    const b = this.b;
    let i = this.i;
    while (i < b.length) {
      const c = b[i];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.i = i;
  }

  expect(c: number): void {
    this.ws();
    if (this.b[this.i] !== c) throw DECLINE;
    this.i++;
  }

  /** At a quote: skips the string, noting its raw content's bounds and whether it has escapes. */
  string(): void {
    const b = this.b;
    if (b[this.i] !== QUOTE) throw DECLINE;
    const start = ++this.i;
    let i = start;
    let escaped = false;
    for (;;) {
      // One table look-up per ordinary byte; out of range reads undefined and stops too.
      while (PLAIN[b[i]] === 1) i++;
      const c = b[i];
      if (c === QUOTE) break;
      if (c !== BACKSLASH) throw DECLINE; // a control character, or the end of the body
      escaped = true;
      const e = b[i + 1];
      if (e === 0x75) { // \uXXXX
        for (let k = 2; k < 6; k++) if (!isHex(b[i + k])) throw DECLINE;
        i += 6;
        continue;
      }
      if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) throw DECLINE;
      i += 2;
    }
    this.i = i + 1;
    this.start = start;
    this.end = i;
    this.escaped = escaped;
  }

  /** The last string's value. */
  text(): string {
    // Escapes are rare in a guest list: JSON.parse of the quoted slice decodes them exactly.
    if (this.escaped) return JSON.parse(this.b.toString('utf8', this.start - 1, this.end + 1)) as string;
    const b = this.b;
    const at = this.start;
    const n = this.end - at;
    // The statuses a list is made of, without making a string for each.
    if (n === 7 && b[at + 1] === 0x74) {
      if (b[at] === 0x73 && b[at + 2] === 0x6f && b[at + 3] === 0x70 && b[at + 4] === 0x70 && b[at + 5] === 0x65 && b[at + 6] === 0x64) return 'stopped';
    } else if (n === 7 && b[at] === 0x72 && b[at + 1] === 0x75 && b[at + 2] === 0x6e && b[at + 3] === 0x6e && b[at + 4] === 0x69 && b[at + 5] === 0x6e && b[at + 6] === 0x67) {
      return 'running';
    }
    return b.toString('utf8', at, this.end);
  }

  /** At a number: checks its grammar and moves past it; true when it is an integer. */
  skipNumber(): boolean {
    const b = this.b;
    let i = this.i;
    if (b[i] === MINUS) i++;
    if (b[i] === ZERO) i++;
    else if (b[i] > ZERO && b[i] <= NINE) while (b[i] >= ZERO && b[i] <= NINE) i++;
    else throw DECLINE;
    let integer = true;
    if (b[i] === DOT) {
      integer = false;
      i++;
      if (!(b[i] >= ZERO && b[i] <= NINE)) throw DECLINE;
      while (b[i] >= ZERO && b[i] <= NINE) i++;
    }
    if (b[i] === 0x65 || b[i] === 0x45) { // e E
      integer = false;
      i++;
      if (b[i] === PLUS || b[i] === MINUS) i++;
      if (!(b[i] >= ZERO && b[i] <= NINE)) throw DECLINE;
      while (b[i] >= ZERO && b[i] <= NINE) i++;
    }
    this.i = i;
    return integer;
  }

  /** At a number: its value. */
  number(): number {
    const b = this.b;
    const start = this.i;
    const integer = this.skipNumber();
    const end = this.i;
    // Short integers (vmids, uptimes) without making a string; anything else as JSON.parse reads it.
    if (integer && end - start <= 15) {
      let k = start;
      const neg = b[k] === MINUS;
      if (neg) k++;
      let n = 0;
      for (; k < end; k++) n = n * 10 + (b[k] - ZERO);
      return neg ? -n : n;
    }
    return Number(b.toString('latin1', start, end));
  }

  literal(word: string): void {
    for (let k = 0; k < word.length; k++) if (this.b[this.i + k] !== word.charCodeAt(k)) throw DECLINE;
    this.i += word.length;
  }

  /** Skips any value, checking its grammar. */
  skip(depth = 0): void {
    if (depth > 64) throw DECLINE;
    this.ws();
    const c = this.b[this.i];
    if (c === QUOTE) { this.string(); return; }
    if (c === LBRACE) {
      this.i++;
      this.ws();
      if (this.b[this.i] === RBRACE) { this.i++; return; }
      for (;;) {
        this.ws();
        this.string();
        this.expect(COLON);
        this.skip(depth + 1);
        this.ws();
        const d = this.b[this.i++];
        if (d === RBRACE) return;
        if (d !== COMMA) throw DECLINE;
      }
    }
    if (c === LBRACKET) {
      this.i++;
      this.ws();
      if (this.b[this.i] === RBRACKET) { this.i++; return; }
      for (;;) {
        this.skip(depth + 1);
        this.ws();
        const d = this.b[this.i++];
        if (d === RBRACKET) return;
        if (d !== COMMA) throw DECLINE;
      }
    }
    if (c === MINUS || (c >= ZERO && c <= NINE)) { this.skipNumber(); return; }
    if (c === 0x74) { this.literal('true'); return; }
    if (c === 0x66) { this.literal('false'); return; }
    if (c === 0x6e) { this.literal('null'); return; }
    throw DECLINE;
  }

  /** Reads a value the caller wants: a string or number as such, true/false/null as OTHER; objects and arrays skipped as OTHER. */
  take(): Taken {
    this.ws();
    const c = this.b[this.i];
    if (c === QUOTE) { this.string(); return this.text(); }
    if (c === MINUS || (c >= ZERO && c <= NINE)) return this.number();
    if (c === 0x74) { this.literal('true'); return OTHER; }
    if (c === 0x66) { this.literal('false'); return OTHER; }
    if (c === 0x6e) { this.literal('null'); return OTHER; }
    if (c === LBRACE || c === LBRACKET) { this.skip(); return OTHER; }
    throw DECLINE;
  }

  /** At a key: which of the wanted ones it is (0 none, 1 vmid, 2 status, 3 uptime, 4 data). */
  key(): number {
    this.string();
    if (this.escaped) {
      const k = this.text();
      return k === 'vmid' ? 1 : k === 'status' ? 2 : k === 'uptime' ? 3 : k === 'data' ? 4 : 0;
    }
    const b = this.b;
    const n = this.end - this.start;
    const at = this.start;
    if (n === 4) {
      if (b[at] === 0x76 && b[at + 1] === 0x6d && b[at + 2] === 0x69 && b[at + 3] === 0x64) return 1; // vmid
      if (b[at] === 0x64 && b[at + 1] === 0x61 && b[at + 2] === 0x74 && b[at + 3] === 0x61) return 4; // data
    } else if (n === 6) {
      if (b[at] === 0x73 && b[at + 1] === 0x74 && b[at + 2] === 0x61 && b[at + 3] === 0x74 && b[at + 4] === 0x75 && b[at + 5] === 0x73) return 2; // status
      if (b[at] === 0x75 && b[at + 1] === 0x70 && b[at + 2] === 0x74 && b[at + 3] === 0x69 && b[at + 4] === 0x6d && b[at + 5] === 0x65) return 3; // uptime
    }
    return 0;
  }
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

// The same leniency as signals.ts: numbers may come as strings.
const num = (x: Taken): number | null => {
  const n = typeof x === 'number' ? x : typeof x === 'string' && x.trim() ? Number(x) : NaN;
  return Number.isFinite(n) ? n : null;
};

/** One entry of the list: an object yields its guest (or nothing without a usable vmid); any other value nothing. */
function entry(s: Scan, out: NodeGuestColumns): void {
  const b = s.b;
  if (b[s.i] <= 0x20) s.ws();
  if (b[s.i] !== LBRACE) { s.skip(); return; }
  s.i++;
  let vmid: Taken = OTHER;
  let status: Taken = OTHER;
  let uptime: Taken = OTHER;
  if (b[s.i] <= 0x20) s.ws();
  if (b[s.i] === RBRACE) { s.i++; return; }
  for (;;) {
    if (b[s.i] <= 0x20) s.ws();
    const k = s.key();
    if (b[s.i] === COLON) s.i++;
    else s.expect(COLON);
    if (b[s.i] <= 0x20) s.ws();
    // A repeated key counts with its last value, as in JSON.parse.
    if (k === 1) vmid = s.take();
    else if (k === 2) status = s.take();
    else if (k === 3) uptime = s.take();
    else {
      // The other fields: strings and numbers skipped here, anything else by skip().
      const c = b[s.i];
      if (c === QUOTE) s.string();
      else if (c === MINUS || (c >= ZERO && c <= NINE)) s.skipNumber();
      else s.skip(1);
    }
    if (b[s.i] <= 0x20) s.ws();
    const d = b[s.i++];
    if (d === COMMA) continue;
    if (d === RBRACE) break;
    throw DECLINE;
  }
  const id = num(vmid);
  if (id === null || !Number.isInteger(id)) return;
  out.push(id, normaliseStatus(typeof status === 'string' && status ? status : null), num(uptime));
}

/**
 * Reads the guests of a `GET /nodes/{node}/qemu|lxc` answer body into `into`, exactly as
 * normaliseNodeGuests(JSON.parse(body).data) reads them; false when the scan declines (`into` is
 * then left in any state).
 */
export function scanNodeGuests(body: Buffer, into: NodeGuestColumns): boolean {
  const s = new Scan(body);
  let found = false;
  try {
    s.expect(LBRACE);
    s.ws();
    if (body[s.i] === RBRACE) return false;
    for (;;) {
      s.ws();
      const k = s.key();
      s.expect(COLON);
      if (k === 4) {
        s.ws();
        if (body[s.i] !== LBRACKET) return false;
        s.i++;
        // A repeated "data" counts with its last value, as in JSON.parse.
        into.clear();
        s.ws();
        if (body[s.i] === RBRACKET) s.i++;
        else {
          for (;;) {
            entry(s, into);
            s.ws();
            const d = body[s.i++];
            if (d === RBRACKET) break;
            if (d !== COMMA) throw DECLINE;
          }
        }
        found = true;
      } else {
        s.skip(1);
      }
      s.ws();
      const d = body[s.i++];
      if (d === RBRACE) break;
      if (d !== COMMA) throw DECLINE;
    }
    s.ws();
    if (s.i !== body.length) return false;
  } catch (err) {
    if (err === DECLINE) return false;
    throw err;
  }
  return found;
}

/** scanNodeGuests as a list of objects, or null when it declines. */
export function scanNodeGuestList(body: Buffer): NodeGuest[] | null {
  const c = new NodeGuestColumns();
  return scanNodeGuests(body, c) ? c.toArray() : null;
}
