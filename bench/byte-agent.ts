// An http.Agent that remembers its TCP sockets, so the harness can count the bytes one client
// really received and sent (HTTP headers and WebSocket framing included, TCP/IP headers not).
import http from 'node:http';
import type { Duplex } from 'node:stream';
import net from 'node:net';

export class ByteCountingAgent extends http.Agent {
  private readonly live = new Set<net.Socket>();
  private closedRead = 0;
  private closedWritten = 0;

  // Returning the socket synchronously is enough: http.Agent then uses it as is.
  override createConnection(options: net.NetConnectOpts): Duplex {
    const s = net.createConnection(options);
    this.live.add(s);
    s.once('close', () => {
      this.live.delete(s);
      this.closedRead += s.bytesRead;
      this.closedWritten += s.bytesWritten;
    });
    return s;
  }

  /** Bytes received on every connection this agent has made so far. */
  bytesRead(): number {
    let n = this.closedRead;
    for (const s of this.live) n += s.bytesRead;
    return n;
  }

  /** Bytes sent on every connection this agent has made so far. */
  bytesWritten(): number {
    let n = this.closedWritten;
    for (const s of this.live) n += s.bytesWritten;
    return n;
  }
}
