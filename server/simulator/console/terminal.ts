// The terminal behind a simulated LXC guest's termproxy: the login line `<user>:<ticket>\n`,
// answered `OK` once termproxy has checked the ticket, then the client's messages `0:<len>:<data>`
// (typed bytes), `1:<cols>:<rows>:` (resize) and `2` (ping), and raw terminal output back. The
// shell echoes what is typed and knows a few commands, enough to see a console work.

/** The byte stream the terminal talks over. */
export interface TermLink {
  send(data: Buffer): void;
  close(): void;
}

/** Decides whether a login line's user and ticket may open this terminal. */
export type TermLogin = (user: string, ticket: string) => boolean;

const MAX_LOGIN_LINE = 4096;

/** One termproxy session of a container. */
export class TermSession {
  private buf = '';
  private loggedIn = false;
  private closed = false;
  private line = '';
  private cols = 80;
  private rows = 24;

  constructor(
    private readonly link: TermLink,
    private readonly hostname: string,
    private readonly login: TermLogin,
    /** False for a stopped container: the console command exits right after the login. */
    private readonly running: () => boolean,
  ) {}

  private out(text: string): void {
    if (!this.closed) this.link.send(Buffer.from(text, 'utf8'));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.close();
  }

  /** Bytes from the client. */
  receive(data: Buffer): void {
    if (this.closed) return;
    this.buf += data.toString('utf8');
    if (!this.loggedIn) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) {
        if (this.buf.length > MAX_LOGIN_LINE) this.close();
        return;
      }
      const first = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const colon = first.indexOf(':');
      // termproxy drops the connection on a bad login without saying why.
      if (colon <= 0 || !this.login(first.slice(0, colon), first.slice(colon + 1))) {
        this.close();
        return;
      }
      this.loggedIn = true;
      this.out('OK');
      if (!this.running()) {
        this.out(`\r\nCT is not running\r\n`);
        this.close();
        return;
      }
      this.out(`\r\nWelcome to ${this.hostname} (simulated container console)\r\n\r\n${this.prompt()}`);
    }
    this.messages();
  }

  private prompt(): string {
    return `root@${this.hostname}:~# `;
  }

  private messages(): void {
    for (;;) {
      if (this.closed || this.buf.length === 0) return;
      const kind = this.buf[0];
      if (kind === '2') {
        this.buf = this.buf.slice(1);
        continue;
      }
      if (kind === '1') {
        const m = /^1:(\d{1,5}):(\d{1,5}):/.exec(this.buf);
        if (!m) {
          if (this.buf.length > 16) this.close();
          return;
        }
        this.cols = Number(m[1]);
        this.rows = Number(m[2]);
        this.buf = this.buf.slice(m[0].length);
        continue;
      }
      if (kind === '0') {
        const m = /^0:(\d{1,7}):/.exec(this.buf);
        if (!m) {
          if (this.buf.length > 16) this.close();
          return;
        }
        const len = Number(m[1]);
        // The length counts bytes; the data may hold multi-byte characters.
        const rest = Buffer.from(this.buf.slice(m[0].length), 'utf8');
        if (rest.length < len) return;
        this.buf = rest.subarray(len).toString('utf8');
        this.typed(rest.subarray(0, len).toString('utf8'));
        continue;
      }
      this.close();
      return;
    }
  }

  private typed(text: string): void {
    for (const ch of text) {
      if (ch === '\r' || ch === '\n') {
        this.out('\r\n' + this.run(this.line.trim()) + this.prompt());
        this.line = '';
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line.length) {
          this.line = this.line.slice(0, -1);
          this.out('\b \b');
        }
      } else if (ch === '\x03') {
        this.line = '';
        this.out('^C\r\n' + this.prompt());
      } else if (ch >= ' ') {
        this.line += ch;
        this.out(ch);
      }
    }
  }

  /** The output of a command line (pure apart from the terminal size). */
  private run(cmd: string): string {
    if (!cmd) return '';
    const [name, ...args] = cmd.split(/\s+/);
    switch (name) {
      case 'hostname': return `${this.hostname}\r\n`;
      case 'whoami': return 'root\r\n';
      case 'echo': return `${args.join(' ')}\r\n`;
      case 'stty': return args[0] === 'size' ? `${this.rows} ${this.cols}\r\n` : '';
      case 'exit':
        setImmediate(() => this.close());
        return 'logout\r\n';
      default: return `${name}: command not found\r\n`;
    }
  }
}
