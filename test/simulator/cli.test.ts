// The `npm run sim` command: serves a cluster, prints URL, token and a config snippet that
// works, and refuses bad flags with a clear message and exit status 2.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(process.cwd(), 'server', 'simulator', 'cli.ts');

function run(args: string[], untilText?: string): Promise<{ code: number | null; out: string; err: string; kill: () => Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    // Node itself with the tsx loader (not the tsx wrapper), so that SIGTERM reaches the CLI directly.
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const kill = async () => {
      child.kill('SIGTERM');
      return exited;
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (untilText && out.includes(untilText)) resolve({ code: null, out, err, kill });
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    void exited.then((code) => resolve({ code, out, err, kill }));
  });
}

// Each case is a tsx child process.
describe('sim CLI', { timeout: 60_000 }, () => {
  it('serves a cluster and prints a config snippet that labdeck can use', async () => {
    const secret = '11111111-2222-4333-8444-555555555555';
    const p = await run(['--port', '0', '--guests', '7', '--nodes', '2', '--seed', '3', '--token-secret', secret, '--unauth-delay-ms', '0', '--control-port', '0'], 'Ctrl-C');
    try {
      expect(p.out).toContain('token id:     root@pam!labdeck');
      expect(p.out).toContain(`token secret: ${secret}`);
      const json = p.out.slice(p.out.indexOf('{'), p.out.lastIndexOf('}') + 1);
      const config = JSON.parse(json) as { clusters: { id: string; url: string; tokenId: string; tokenSecret: string }[] };
      expect(config.clusters).toHaveLength(1);
      const { url, tokenId, tokenSecret } = config.clusters[0];
      const res = await fetch(`${url}/api2/json/cluster/resources?type=vm`, { headers: { Authorization: `PVEAPIToken=${tokenId}=${tokenSecret}` } });
      expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(7);
      const control = /control API: (http:\/\/\S+)/.exec(p.out)![1];
      expect(((await (await fetch(`${control}/clusters`)).json()) as unknown[]).length).toBe(1);
    } finally {
      expect(await p.kill()).toBe(0);
    }
  });

  it('refuses bad flags with a message and exit status 2', async () => {
    const [unknown, bad, secret] = await Promise.all([run(['--bogus']), run(['--guests', 'many']), run(['--token-secret', 'NOT-A-UUID'])]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/Unknown option '--bogus'/);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--guests: must be a whole number');
    expect(secret.code).toBe(2);
    expect(secret.err).toContain('--token-secret: must be a lowercase UUID');
  });
});
