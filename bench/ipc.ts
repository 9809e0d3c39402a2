// Request/response over Node's child-process IPC channel: the harness drives the simulator and
// labdeck children with it, so each runs in its own process and its CPU and memory are its own.
import { fork, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';

interface Request { id: number; cmd: string; args: unknown }
interface Reply { id: number; ok: boolean; result?: unknown; error?: string }

export type Handlers = Record<string, (args: any) => unknown>;

/** Child side: answers the parent's requests with the given handlers. */
export function serveIpc(handlers: Handlers): void {
  if (!process.send) throw new Error('this module must be started by the bench harness (no IPC channel)');
  process.on('message', async (msg: Request) => {
    const reply: Reply = { id: msg.id, ok: true };
    try {
      const h = handlers[msg.cmd];
      if (!h) throw new Error(`unknown command ${msg.cmd}`);
      reply.result = await h(msg.args);
    } catch (err) {
      reply.ok = false;
      reply.error = (err as Error).stack ?? String(err);
    }
    process.send!(reply);
  });
  // The harness going away (even by a crash) must not leave children behind.
  process.on('disconnect', () => process.exit(0));
}

/** Parent side: a forked TypeScript child answering commands. */
export class ChildRpc {
  private next = 1;
  private pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited: string | null = null;

  private constructor(readonly name: string, readonly child: ChildProcess) {
    child.on('message', (msg: Reply) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${name}: ${msg.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = `${name} exited (code ${code}, signal ${signal})`;
      for (const p of this.pending.values()) p.reject(new Error(this.exited));
      this.pending.clear();
    });
  }

  /** Forks `tsx <module>`; its stdout/stderr go to logFile. */
  static start(name: string, modulePath: string, opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd: string; args?: string[]; nodeOptions?: string[] }): ChildRpc {
    const fd = openSync(opts.logFile, 'a');
    const child = fork(modulePath, opts.args ?? [], {
      cwd: opts.cwd,
      execArgv: ['--import', 'tsx', ...(opts.nodeOptions ?? [])],
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    return new ChildRpc(name, child);
  }

  /** Sends one command; rejects if the child fails it, exits, or it takes longer than timeoutMs. */
  call<T = unknown>(cmd: string, args: unknown = {}, timeoutMs = 300_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.child.send({ id, cmd, args } satisfies Request);
    });
  }

  /** Asks the child to close, then kills it if it has not exited within graceMs. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      await this.call('close', {}, graceMs);
    } catch {
      // closing failed or timed out: the kill below ends it
    }
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}
