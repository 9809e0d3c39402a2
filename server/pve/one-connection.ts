// The live signals' reads (the task list every 2 s, the node lists every 4 s: some 25 GETs a
// second over ten clusters) on one keep-alive HTTP/1.1 connection, spoken directly on the socket.
// Through undici each of those small GETs cost ~26 kB of short-lived objects (request, handler,
// header arrays, a readable stream and its async iterator, an abort signal) and a fresh buffer for
// every chunk read, which kept the garbage collector busy at idle. Here a request is one cached
// buffer written once, a plain-TCP socket reads into one buffer kept with the connection, and the
// body is copied straight into the caller's reused BodyScratch. Only GET, one request at a time
// (the rest wait in order), no redirects: what these reads need. Everything else stays on undici.
import net from 'node:net';
import tls from 'node:tls';

/**
 * A body buffer that one caller reuses from one answer to the next: the answer it returns is a view
 * of it, valid until the next answer read into it. For reads made every few seconds (node lists):
 * V8 counts each answer's fresh ArrayBuffer as old-generation memory, and ~100 kB a read, a
 * couple of reads a second per cluster, started a full mark-compact of the whole heap every ~4 s
 * at idle although almost nothing had become garbage there.
 */
export class BodyScratch {
  private buf = Buffer.allocUnsafeSlow(0);
  private length = 0;

  /** Starts a new answer; `expected` bytes (when known) are made room for at once. */
  begin(expected = 0): void {
    this.length = 0;
    if (expected > this.buf.length) this.buf = Buffer.allocUnsafeSlow(expected);
  }

  /** Appends `src[start, end)`, growing the buffer when it does not fit. */
  append(src: Buffer, start: number, end: number): void {
    const need = this.length + end - start;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2, 64 * 1024));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    src.copy(this.buf, this.length, start, end);
    this.length = need;
  }

  /** Bytes of the answer so far. */
  get size(): number {
    return this.length;
  }

  /** The answer so far. */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** Reads a whole body (a stream of chunks) and returns its view. */
  async fill(body: AsyncIterable<Buffer>): Promise<Buffer> {
    this.begin();
    for await (const chunk of body) this.append(chunk, 0, chunk.length);
    return this.view();
  }
}

/** One answer: status, reason phrase, content type and the body's bytes. */
export interface RawAnswer { status: number; statusText: string; contentType: string; body: Buffer }

/** Why a read failed: `code` like Node's socket errors (ECONNREFUSED, ECONNRESET, ...), or a timeout. */
export class ConnectionError extends Error {
  constructor(message: string, readonly code: string, readonly timedOut = false) {
    super(message);
  }
}

export interface OneConnectionOptions {
  /** http: or https: origin. */
  url: URL;
  verifyTls: boolean;
  /** Header lines sent with every request (no Host, no trailing blank line), e.g. "Accept: application/json\r\n". */
  headerLines: string;
  /** A connection idle this long is closed (before the server may close it under a request). */
  keepAliveMs: number;
  /** Larger answers are refused (default 256 MB; a node list of thousands of guests is well under a megabyte). */
  maxBodyBytes?: number;
}

interface Pending {
  head: Buffer;
  timeoutMs: number;
  /** When the read times out (epoch ms): its time waiting for its turn counts. */
  deadline: number;
  sink: BodyScratch;
  /** The sink is the caller's (answer returned as its view) rather than made for this read. */
  borrowed: boolean;
  resolve: (a: RawAnswer) => void;
  reject: (e: ConnectionError) => void;
}

const READ_BUFFER = 64 * 1024;
const MAX_HEAD = 64 * 1024;
const MAX_BODY = 256 * 1024 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');
/** Request heads built once per path; paths are the task list and two lists per node. */
const MAX_CACHED_HEADS = 512;

type BodyMode = 'length' | 'chunked' | 'close' | 'none';
/** Chunked decoding: reading a size line, its data, the CRLF after it, or the trailer lines. */
type ChunkState = 'size' | 'data' | 'data-end' | 'trailer';

/** One keep-alive connection for GETs to one origin, requests served one at a time in order. */
export class OneConnection {
  private readonly host: string;
  private readonly port: number;
  private readonly secure: boolean;
  private readonly hostHeader: string;
  private readonly heads = new Map<string, Buffer>();
  private readonly readBuf = Buffer.allocUnsafeSlow(READ_BUFFER);
  private socket: net.Socket | null = null;
  /** The last TLS session, offered again on the next connection (a resumed handshake is far cheaper). */
  private tlsSession: Buffer | undefined;
  private idleTimer: NodeJS.Timeout | null = null;
  private requestTimer: NodeJS.Timeout | null = null;
  private readonly queue: Pending[] = [];
  private current: Pending | null = null;
  private closed = false;

  // The answer being read.
  private head = Buffer.allocUnsafeSlow(1024);
  private headLength = 0;
  private inHead = true;
  private status = 0;
  private statusText = '';
  private contentType = '';
  private keepAlive = true;
  private mode: BodyMode = 'none';
  private remaining = 0;
  private chunkState: ChunkState = 'size';
  private sizeLine = '';

  private readonly maxBody: number;

  constructor(private readonly opts: OneConnectionOptions) {
    this.maxBody = opts.maxBodyBytes ?? MAX_BODY;
    this.secure = opts.url.protocol === 'https:';
    this.host = opts.url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(opts.url.port) || (this.secure ? 443 : 80);
    this.hostHeader = opts.url.host;
  }

  /** Sends `GET path` (path with its query) and resolves with the whole answer. */
  get(path: string, timeoutMs: number, scratch?: BodyScratch): Promise<RawAnswer> {
    if (this.closed) return Promise.reject(new ConnectionError('connection closed', 'UND_ERR_DESTROYED'));
    return new Promise<RawAnswer>((resolve, reject) => {
      this.queue.push({ head: this.requestHead(path), timeoutMs, deadline: Date.now() + timeoutMs, sink: scratch ?? new BodyScratch(), borrowed: !!scratch, resolve, reject });
      this.next();
    });
  }

  /** Closes the socket now; reads waiting or in flight fail. */
  close(): void {
    this.closed = true;
    const err = new ConnectionError('connection closed', 'UND_ERR_DESTROYED');
    for (const p of this.queue.splice(0)) p.reject(err);
    if (this.current) this.fail(err);
    this.drop();
  }

  private requestHead(path: string): Buffer {
    let head = this.heads.get(path);
    if (!head) {
      if (this.heads.size >= MAX_CACHED_HEADS) this.heads.clear();
      head = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${this.opts.headerLines}\r\n`, 'latin1');
      this.heads.set(path, head);
    }
    return head;
  }

  private next(): void {
    if (this.current || this.queue.length === 0 || this.closed) return;
    const p = this.queue.shift()!;
    this.current = p;
    if (this.idleTimer) { clearTimeout(this.idleTimer); this.idleTimer = null; }
    this.inHead = true;
    this.headLength = 0;
    p.sink.begin();
    const timedOut = () => new ConnectionError(`no answer within ${p.timeoutMs} ms`, 'UND_ERR_TIMEOUT', true);
    const left = p.deadline - Date.now();
    if (left <= 0) {
      // Its time ran out waiting behind a read that hung: not sent at all.
      this.current = null;
      p.reject(timedOut());
      this.next();
      return;
    }
    this.requestTimer = setTimeout(() => {
      this.requestTimer = null;
      this.fail(timedOut());
    }, left);
    this.requestTimer.unref();
    (this.socket ?? this.open()).write(p.head);
  }

  private open(): net.Socket {
    const onData = (buf: Buffer, n: number) => { if (this.socket === s) this.onBytes(buf, n); };
    const s: net.Socket = this.secure
      ? tls.connect({ host: this.host, port: this.port, rejectUnauthorized: this.opts.verifyTls, session: this.tlsSession, ...(net.isIP(this.host) ? {} : { servername: this.host }) })
      // Plain TCP reads into one buffer kept with the connection instead of a new one per chunk.
      : net.connect({ host: this.host, port: this.port, onread: { buffer: this.readBuf, callback: (n, buf) => { onData(buf as Buffer, n); return true; } } });
    if (this.secure) {
      s.on('data', (b: Buffer) => onData(b, b.length));
      s.on('session', (session: Buffer) => { this.tlsSession = session; });
    }
    s.setNoDelay(true);
    s.on('error', (err: Error & { code?: string }) => {
      if (this.socket !== s) return;
      this.dropAnd(new ConnectionError(err.message, err.code ?? 'ECONNRESET'));
    });
    // The other side closed: a body read to the end of the connection is complete, anything else is cut short.
    s.on('end', () => {
      if (this.socket !== s) return;
      if (this.current && !this.inHead && this.mode === 'close') { this.keepAlive = false; this.complete(); return; }
      this.dropAnd(new ConnectionError('other side closed', 'UND_ERR_SOCKET'));
    });
    s.on('close', () => {
      if (this.socket !== s) return;
      this.dropAnd(new ConnectionError('other side closed', 'UND_ERR_SOCKET'));
    });
    this.socket = s;
    return s;
  }

  /** Drops the socket; the read in flight (if any) fails with `err`. */
  private dropAnd(err: ConnectionError): void {
    this.drop();
    if (this.current) this.fail(err);
  }

  private drop(): void {
    const s = this.socket;
    this.socket = null;
    if (this.idleTimer) { clearTimeout(this.idleTimer); this.idleTimer = null; }
    s?.destroy();
  }

  private fail(err: ConnectionError): void {
    const p = this.current;
    if (!p) return;
    this.current = null;
    if (this.requestTimer) { clearTimeout(this.requestTimer); this.requestTimer = null; }
    // The connection's state is unknown after a failure: never reused.
    this.drop();
    p.reject(err);
    this.next();
  }

  private complete(): void {
    const p = this.current!;
    this.current = null;
    if (this.requestTimer) { clearTimeout(this.requestTimer); this.requestTimer = null; }
    // A buffer made for this read is returned as it is when the answer fills it (its length was known).
    const view = p.sink.view();
    const body = p.borrowed || view.length === view.buffer.byteLength ? view : Buffer.from(view);
    if (!this.keepAlive) this.drop();
    p.resolve({ status: this.status, statusText: this.statusText, contentType: this.contentType, body });
    if (this.queue.length) this.next();
    else if (this.socket && !this.current) {
      const s = this.socket;
      this.idleTimer = setTimeout(() => { this.idleTimer = null; if (this.socket === s && !this.current) this.drop(); }, this.opts.keepAliveMs);
      this.idleTimer.unref();
    }
  }

  private onBytes(buf: Buffer, n: number): void {
    const s = this.socket;
    if (!this.current) {
      // Bytes nobody asked for: the connection cannot be trusted for the next request.
      this.drop();
      return;
    }
    let at = 0;
    // Each step may end the read (and start the next request on a new socket): stop at once then.
    while (this.socket === s && this.current && this.inHead && at < n) at = this.readHead(buf, at, n);
    if (this.socket === s && this.current && !this.inHead && at < n) this.readBody(buf, at, n);
  }

  /** Collects the head from `buf[start, n)`; returns where what follows it starts (n: all taken). */
  private readHead(buf: Buffer, start: number, n: number): number {
    let text: string;
    let next: number;
    const before = this.headLength;
    // Mostly the head comes whole in one read: parsed where it lies (the buffer past n is stale).
    const whole = before === 0 ? buf.indexOf(CRLFCRLF, start) : -1;
    if (whole >= 0 && whole + 4 <= n) {
      text = buf.toString('latin1', start, whole);
      next = whole + 4;
    } else {
      if (before + n - start > this.head.length) {
        const grown = Buffer.allocUnsafeSlow(Math.max(before + n - start, this.head.length * 2));
        this.head.copy(grown, 0, 0, before);
        this.head = grown;
      }
      buf.copy(this.head, before, start, n);
      this.headLength += n - start;
      const end = this.head.subarray(0, this.headLength).indexOf(CRLFCRLF, Math.max(0, before - 3));
      if (end < 0) {
        if (this.headLength > MAX_HEAD) this.fail(new ConnectionError('answer head too long', 'HPE_HEADER_OVERFLOW'));
        return n;
      }
      text = this.head.toString('latin1', 0, end);
      next = start + end + 4 - before;
    }
    this.headLength = 0;
    if (!this.parseHead(text)) return n;
    // A 1xx answer (100 Continue) precedes the real one: read the next head.
    if (this.status < 200) return next;
    this.inHead = false;
    this.current!.sink.begin(this.mode === 'length' ? this.remaining : 0);
    if (this.mode === 'none' || (this.mode === 'length' && this.remaining === 0)) {
      if (next < n) this.keepAlive = false;
      this.complete();
      return n;
    }
    return next;
  }

  /** Reads the status line and the headers this client acts on; false (and the read failed) when unreadable. */
  private parseHead(text: string): boolean {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!m) { this.fail(new ConnectionError('not an HTTP answer', 'HPE_INVALID_CONSTANT')); return false; }
    this.status = Number(m[2]);
    this.statusText = m[3] ?? '';
    let connection = m[1] === '1' ? 'keep-alive' : 'close';
    let length: number | null = null;
    let chunked = false;
    this.contentType = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value) || (length !== null && Number(value) !== length)) { this.fail(new ConnectionError('bad content-length', 'HPE_INVALID_CONTENT_LENGTH')); return false; }
        length = Number(value);
      } else if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === 'connection') connection = value.toLowerCase();
      else if (name === 'content-type') this.contentType = value;
    }
    this.keepAlive = !/(^|,)\s*close\s*(,|$)/.test(connection);
    if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) this.mode = 'none';
    else if (chunked) { this.mode = 'chunked'; this.chunkState = 'size'; this.sizeLine = ''; }
    else if (length !== null) {
      if (length > this.maxBody) { this.fail(this.tooLarge()); return false; }
      this.mode = 'length';
      this.remaining = length;
    } else { this.mode = 'close'; this.keepAlive = false; }
    return true;
  }

  private tooLarge(): ConnectionError {
    return new ConnectionError(`answer larger than ${this.maxBody} bytes`, 'UND_ERR_RES_EXCEEDED_MAX_SIZE');
  }

  private readBody(buf: Buffer, at: number, n: number): void {
    const sink = this.current!.sink;
    if (this.mode === 'close') {
      if (sink.size + n - at > this.maxBody) { this.fail(this.tooLarge()); return; }
      sink.append(buf, at, n);
      return;
    }
    if (this.mode === 'length') {
      const take = Math.min(this.remaining, n - at);
      sink.append(buf, at, at + take);
      this.remaining -= take;
      if (this.remaining === 0) {
        if (at + take < n) this.keepAlive = false;
        this.complete();
      }
      return;
    }
    this.readChunked(buf, at, n, sink);
  }

  private readChunked(buf: Buffer, at: number, n: number, sink: BodyScratch): void {
    while (at < n && this.current) {
      if (this.chunkState === 'data') {
        const take = Math.min(this.remaining, n - at);
        if (sink.size + take > this.maxBody) { this.fail(this.tooLarge()); return; }
        sink.append(buf, at, at + take);
        this.remaining -= take;
        at += take;
        if (this.remaining === 0) { this.chunkState = 'data-end'; this.sizeLine = ''; }
        continue;
      }
      // The size line, the CRLF after a chunk's data and the trailer are read line by line.
      const nl = buf.indexOf(10, at);
      if (nl < 0 || nl >= n) {
        this.sizeLine += buf.toString('latin1', at, n);
        if (this.sizeLine.length > 4096) this.fail(new ConnectionError('bad chunk', 'HPE_INVALID_CHUNK_SIZE'));
        return;
      }
      const line = (this.sizeLine + buf.toString('latin1', at, nl)).replace(/\r$/, '');
      this.sizeLine = '';
      at = nl + 1;
      if (this.chunkState === 'data-end') {
        if (line !== '') { this.fail(new ConnectionError('bad chunk', 'HPE_INVALID_CHUNK_SIZE')); return; }
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        const hex = line.split(';')[0].trim();
        if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) { this.fail(new ConnectionError('bad chunk', 'HPE_INVALID_CHUNK_SIZE')); return; }
        this.remaining = parseInt(hex, 16);
        this.chunkState = this.remaining === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        if (at < n) this.keepAlive = false;
        this.complete();
        return;
      }
    }
  }
}
