// Request/response over Node's child-process IPC channel: the harness drives the simulator and
// labdeck children with it, so each runs in its own process and its CPU and memory are its own.
import { fork, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createRequire } from 'node:module';

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

/**
 * What `npm start` gives node, read from package.json's start script (`VAR=value … node --flag …
 * dist/server/main.js`), so the benches run labdeck exactly as production does (pure over the text).
 */
export function productionNode(startScript: string): { flags: string[]; env: Record<string, string> } {
  const words = startScript.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i]); i++) {
    const eq = words[i].indexOf('=');
    env[words[i].slice(0, eq)] = words[i].slice(eq + 1);
  }
  if (words[i] !== 'node') throw new Error(`the start script does not run node: ${startScript}`);
  const flags: string[] = [];
  for (i++; i < words.length && words[i].startsWith('--'); i++) flags.push(words[i]);
  return { flags, env };
}

/** `npm start`'s node flags and environment of the checkout at `root`. */
export function productionStart(root: string): { flags: string[]; env: Record<string, string> } {
  return productionNode((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start);
}

let compiledEntry: string | null = null;

/** bench/labdeck-process.ts bundled as scripts/build-server.mjs bundles the server, once per run. */
function compiledLabdeck(root: string): string {
  if (compiledEntry) return compiledEntry;
  const outdir = join(root, 'dist', 'bench');
  // Required here, not imported: the labdeck child loads this module too and must not hold esbuild.
  const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  buildSync({
    absWorkingDir: root, entryPoints: ['bench/labdeck-process.ts'], outdir, bundle: true, splitting: true, format: 'esm',
    platform: 'node', target: 'node20.19', packages: 'external', tsconfig: 'tsconfig.json', chunkNames: '[name]-[hash]',
    legalComments: 'none', logLevel: 'warning',
  });
  return (compiledEntry = join(outdir, 'labdeck-process.js'));
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

  /**
   * Forks `tsx <module>`; its stdout/stderr go to logFile. labdeck itself (bench/labdeck-process.ts)
   * runs compiled, as `npm start` runs it: bundled by esbuild like the production build, started by
   * plain node with the same memory settings.
   */
  static start(name: string, modulePath: string, opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd: string; args?: string[]; nodeOptions?: string[] }): ChildRpc {
    const fd = openSync(opts.logFile, 'a');
    const root = dirname(dirname(modulePath));
    const compiled = basename(modulePath) === 'labdeck-process.ts' ? compiledLabdeck(root) : null;
    const production = compiled ? productionStart(root) : { flags: ['--import', 'tsx'], env: {} };
    const child = fork(compiled ?? modulePath, opts.args ?? [], {
      cwd: opts.cwd,
      execArgv: [...production.flags, ...(opts.nodeOptions ?? [])],
      env: { ...process.env, ...production.env, ...opts.env },
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
