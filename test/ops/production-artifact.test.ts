// The production artifact, as the Dockerfile's final stage assembles it but without a Docker
// engine: its files copied to a temp dir, a clean `npm ci --omit=dev` (offline-preferred, from the
// npm cache), then started with the image's ENV and CMD and probed with the image's HEALTHCHECK.
// The image holds the compiled server (dist/server, from `npm run build`), never the sources.
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../server/simulator/index.js';
import { waitFor } from '../helpers/wait.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface FinalStage {
  env: Record<string, string>;
  /** The command line of the `labdeck` CLI wrapper the image installs. */
  cli: string[];
  copies: Array<{ from: string | null; src: string[]; dest: string }>;
  cmd: string[];
  healthcheck: string[];
}

/** Reads the last stage of the Dockerfile: its ENV, COPY, CMD and HEALTHCHECK. */
function readFinalStage(text: string): FinalStage {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const last = lines.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0).at(-1)!;
  const stage: FinalStage = { env: {}, cli: [], copies: [], cmd: [], healthcheck: [] };
  for (const line of lines.slice(last + 1)) {
    const [word, ...restParts] = line.split(/\s+/);
    const rest = line.slice(word.length).trim();
    if (word === 'ENV') for (const m of rest.matchAll(/([A-Z_]+)=(\S+)/g)) stage.env[m[1]] = m[2];
    if (word === 'COPY') {
      const args = restParts.filter((a) => !a.startsWith('--chown'));
      const from = args[0].startsWith('--from=') ? args.shift()!.slice('--from='.length) : null;
      stage.copies.push({ from, src: args.slice(0, -1), dest: args.at(-1)! });
    }
    const wrapper = /exec (\S.*?) "\$@"/.exec(line);
    if (word === 'RUN' && wrapper) stage.cli = wrapper[1].split(/\s+/);
    if (word === 'CMD') stage.cmd = JSON.parse(rest) as string[];
    if (word === 'HEALTHCHECK') stage.healthcheck = JSON.parse(rest.slice(rest.indexOf('CMD') + 3).trim()) as string[];
  }
  return stage;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 20 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('the production artifact (what the Docker image runs)', () => {
  let dir: string;
  let stage: FinalStage;
  let sim: Simulator;
  let install: { code: number; out: string };

  beforeAll(async () => {
    stage = readFinalStage(readFileSync(join(root, 'Dockerfile'), 'utf8'));
    // `npm test` builds first; a lone run of this file builds the server itself (the client is optional).
    if (!existsSync(join(root, 'dist', 'server', 'main.js'))) {
      const build = await run(process.execPath, ['scripts/build-server.mjs'], root, process.env, 120_000);
      if (build.code !== 0) throw new Error(`server build failed:\n${build.out}`);
    }
    dir = mkdtempSync(join(tmpdir(), 'labdeck-artifact-'));
    const app = join(dir, 'app');
    for (const copy of stage.copies) {
      if (copy.from === 'deps') continue;
      for (const src of copy.src) {
        // Files from the build stage are what `npm run build` leaves in the repo (npm test builds first).
        const from = copy.from === 'build' ? join(root, src.replace(/^\/app\//, '')) : join(root, src);
        const to = copy.dest.endsWith('/') ? join(app, copy.dest, src.split('/').at(-1)!) : join(app, copy.dest);
        if (copy.from === 'build' && src.endsWith('/dist/client') && !existsSync(from)) continue;
        cpSync(from, to, { recursive: true });
      }
    }
    // Packages come from the npm cache (offline-preferred). better-sqlite3's native addon: in the
    // image prebuild-install downloads the prebuilt binary; here (no network) it gets the one this
    // checkout's own `npm ci` built, offered as a local prebuild in the file name it looks for, so
    // the test does not spend a minute compiling SQLite. Without it, node-gyp compiles (JOBS=max).
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', JOBS: 'max' };
    const addon = join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    if (existsSync(addon)) {
      const version = (JSON.parse(readFileSync(join(root, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as { version: string }).version;
      const prebuilds = join(dir, 'prebuilds');
      mkdirSync(prebuilds);
      const tarball = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
      const tar = await run('tar', ['-czf', join(prebuilds, tarball), '-C', join(root, 'node_modules', 'better-sqlite3'), 'build/Release/better_sqlite3.node'], root, process.env, 60_000);
      if (tar.code === 0) env.npm_config_better_sqlite3_local_prebuilds = prebuilds;
    }
    install = await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app, env, 420_000);
    sim = await startSimulator({
      clusters: [{ id: 'lab-a', nodes: 1, guests: 10, seed: 5, tokenSecret: randomUUID() }],
      pvestatdIntervalMs: 0, unauthorizedDelayMs: 0, activity: false,
    });
  }, 480_000);

  afterAll(async () => {
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs with production dependencies only and holds compiled JavaScript, no sources', () => {
    expect(install.code, install.out).toBe(0);
    const app = join(dir, 'app');
    expect(existsSync(join(app, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(true);
    // (typescript itself is there: valibot lists it as a peer dependency, which npm installs.)
    for (const dev of ['tsx', 'esbuild', 'vitest', 'vite', 'playwright-core', 'smtp-server', 'socket.io-client', 'pino-pretty']) {
      expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);
    }
    expect(stage.env).toMatchObject({ HOST: '0.0.0.0', PORT: '8080', DATABASE_URL: '/data/labdeck.db' });
    // Plain node runs a built file: no loader flag, no TypeScript anywhere outside node_modules.
    // The same node flags as `npm start` (the heap sizing measured in bench/RESULTS.md), nothing else.
    const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const startFlags = start.split(/\s+/).filter((w) => w.startsWith('--'));
    expect(startFlags.length).toBeGreaterThan(0);
    expect(stage.cmd).toEqual(['node', ...startFlags, 'dist/server/main.js']);
    expect(startFlags.every((f) => /^--max-(semi|old)-space-size=\d+$/.test(f))).toBe(true);
    expect(stage.cli[0]).toBe('node');
    expect(stage.cli.slice(1).every((a) => !a.startsWith('-') && !a.endsWith('.ts'))).toBe(true);
    const files = readdirSync(app, { recursive: true, encoding: 'utf8' }).filter((f) => !f.startsWith('node_modules'));
    expect(files.filter((f) => /\.[cm]?ts$/.test(f))).toEqual([]);
    expect(files).toContain(join('dist', 'server', 'main.js'));
  });

  /** Starts the image's CMD with its ENV (plus `env`) and waits until its HEALTHCHECK passes. */
  async function startImage(env: NodeJS.ProcessEnv): Promise<{ stop: () => Promise<number | null>; output: () => string }> {
    const app = join(dir, 'app');
    const [cmd, ...args] = stage.cmd;
    const child = spawn(cmd === 'node' ? process.execPath : cmd, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const stop = async () => {
      child.kill('SIGTERM');
      return exited;
    };
    const [hcmd, ...hargs] = stage.healthcheck;
    // Probes back to back, as the image's HEALTHCHECK would, until one passes or the server exits.
    const healthy = await waitFor(async () => {
      if (child.exitCode !== null) return 'exited';
      return (await run(hcmd === 'node' ? process.execPath : hcmd, hargs, app, env, 10_000)).code === 0 ? 'healthy' : null;
    }, 60_000, 'the health check').then((s) => s === 'healthy', () => false);
    if (!healthy) {
      await stop();
      throw new Error(`the image's health check never passed:\n${out}`);
    }
    return { stop, output: () => out };
  }

  /** The image's environment on a free loopback port with its database in the temp dir. */
  async function imageEnv(extra: Record<string, string>): Promise<{ env: NodeJS.ProcessEnv; port: number }> {
    const port = await freePort();
    return {
      port,
      env: {
        PATH: process.env.PATH ?? '', HOME: dir, ...stage.env,
        // The image listens on 0.0.0.0:8080 with /data mounted; the test stays on loopback and a temp dir.
        HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...extra,
      },
    };
  }

  it('starts the way the image does, passes its health check, and stops on SIGTERM', async () => {
    const app = join(dir, 'app');
    const c = sim.clusters[0];
    writeFileSync(join(dir, 'labdeck.json'), JSON.stringify({
      clusters: [{ id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, probePorts: false }],
    }));
    const { env, port } = await imageEnv({
      DATABASE_URL: join(dir, 'data', 'labdeck.db'), LABDECK_CONFIG: join(dir, 'labdeck.json'), SESSION_SECRET: 'x'.repeat(40),
    });
    const server = await startImage(env);
    let code: number | null;
    try {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect([200, 503]).toContain(ready.status);
      if (existsSync(join(app, 'dist', 'client', 'index.html'))) {
        const page = await fetch(`http://127.0.0.1:${port}/`);
        expect(page.status).toBe(200);
        expect(await page.text()).toMatch(/<html/i);
      }
    } finally {
      code = await server.stop();
    }
    expect(code, server.output()).toBe(0);
    expect(existsSync(join(dir, 'data', 'labdeck.db'))).toBe(true);

    // The admin CLI as the image installs it, from another working directory.
    const [cli, ...cliArgs] = stage.cli.map((a) => a.replace(/^\/app\//, `${app}/`));
    writeFileSync(join(dir, 'pw'), 'artifact-pass-1\n');
    const add = await run(cli === 'node' ? process.execPath : cli, [...cliArgs, 'user', 'add', 'root', '--role', 'admin', '--password-file', 'pw'], dir, env, 60_000);
    expect(add.out).toMatch(/Created admin root/);
    expect(add.code).toBe(0);
  }, 90_000);

  it('runs demo mode from the build: the simulator loads on demand and a student sees their VM', async () => {
    const { env, port } = await imageEnv({ DATABASE_URL: join(dir, 'demo', 'labdeck.db') });
    const server = await startImage(env);
    let code: number | null;
    try {
      const url = `http://127.0.0.1:${port}`;
      // Ready means every simulated cluster finished its first pass.
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 60_000, `demo mode to become ready:\n${server.output()}`);
      expect(server.output()).toContain('labdeck demo mode');
      const login = await fetch(`${url}/api/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'student03', password: 'demo' }),
      });
      expect(login.status).toBe(200);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
      const mine = await (await fetch(`${url}/api/vms`, { headers: { cookie } })).json() as { vms: Array<{ cluster: string }> };
      expect(mine.vms).toHaveLength(1);
      expect(mine.vms[0].cluster).toBe('lab-a');
    } finally {
      code = await server.stop();
    }
    expect(code, server.output()).toBe(0);
  }, 90_000);
});
