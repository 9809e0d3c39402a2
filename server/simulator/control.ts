// The simulator's HTTP control API (JSON): lets a separate process (the benchmark, someone
// trying the demo) cause outside events and faults in a simulator running in its own process.
import http from 'node:http';
import * as v from 'valibot';
import type { SimCluster } from './index.js';

// "ui" (the default): a task as the Proxmox UI starts it; "guest": the guest's own OS, no task; "instant": the state just flips.
const Power = v.object({
  action: v.picklist(['start', 'stop', 'shutdown', 'reboot', 'suspend', 'resume']),
  via: v.optional(v.picklist(['ui', 'guest', 'instant']), 'ui'),
});
const Migrate = v.object({ node: v.pipe(v.string(), v.minLength(1), v.maxLength(64)), via: v.optional(v.picklist(['ui', 'instant']), 'ui') });
const Destroy = v.object({ via: v.optional(v.picklist(['ui', 'instant']), 'ui') });
const Clone = v.strictObject({
  newid: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(999_999_999))),
  name: v.optional(v.pipe(v.string(), v.regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/), v.maxLength(63))),
  target: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
});
const Load = v.object({ load: v.picklist(['idle', 'busy']) });
const NodeState = v.object({ online: v.boolean() });
const Name = v.pipe(v.string(), v.regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/), v.maxLength(63));
const Create = v.strictObject({
  vmid: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(999_999_999))),
  type: v.optional(v.picklist(['qemu', 'lxc'])),
  name: v.optional(Name),
  node: v.optional(v.pipe(v.string(), v.maxLength(64))),
  tags: v.optional(v.array(v.pipe(v.string(), v.regex(/^[a-z0-9_][a-z0-9_\-+.]*$/i), v.maxLength(64)))),
  pool: v.optional(v.nullable(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_][A-Za-z0-9_\-+/]*$/), v.maxLength(64)))),
  ostype: v.optional(v.picklist(['l26', 'l24', 'win11', 'win10', 'win8', 'win7', 'wxp', 'w2k8', 'other', 'debian', 'ubuntu', 'alpine', 'centos', 'fedora', 'archlinux'])),
  running: v.optional(v.boolean()),
});
const Fault = v.strictObject({
  latencyMs: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(600_000))),
  jitterMs: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(600_000))),
  errorRate: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  mode: v.optional(v.picklist(['ok', 'down', 'hang'])),
  tokenRevoked: v.optional(v.boolean()),
});

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function parse<T extends v.GenericSchema>(schema: T, body: unknown): v.InferOutput<T> {
  const r = v.safeParse(schema, body);
  if (!r.success) {
    const issue = r.issues[0];
    const where = v.getDotPath(issue);
    throw new HttpError(400, 'bad_request', where ? `${where}: ${issue.message}` : issue.message);
  }
  return r.output;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  let raw = '';
  req.setEncoding('utf8');
  for await (const chunk of req) {
    raw += chunk as string;
    if (raw.length > 16_384) throw new HttpError(413, 'too_large', 'request body too large');
  }
  if (!raw) return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new HttpError(400, 'bad_json', 'request body is not valid JSON');
  }
}

const vmidOf = (s: string): number => {
  if (!/^\d{3,9}$/.test(s)) throw new HttpError(400, 'bad_request', `invalid vmid '${s}'`);
  return Number(s);
};

/** Runs an outside event; a refusal from the state (unknown node, template start...) becomes 409. */
function act<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new HttpError(409, 'conflict', e instanceof Error ? e.message : String(e));
  }
}

function describe(c: SimCluster) {
  return { id: c.id, url: c.url, protocol: c.protocol, port: c.port, tokenId: c.tokenId, tokenSecret: c.tokenSecret, fingerprint: c.fingerprint, nodes: c.nodes, guests: c.guests().length };
}

/** Answers one control request; returns [status, body]. */
async function route(clusters: SimCluster[], method: string, parts: string[], req: http.IncomingMessage): Promise<[number, unknown]> {
  if (parts[0] !== 'clusters') throw new HttpError(404, 'not_found', 'no such route');
  // Every body is parsed, even where a route ignores it, so malformed JSON never passes silently.
  const body = method === 'GET' || method === 'HEAD' ? {} : await readJson(req);
  if (parts.length === 1 && method === 'GET') return [200, clusters.map(describe)];
  const c = clusters.find((x) => x.id === parts[1]);
  if (!c) throw new HttpError(404, 'not_found', `no cluster '${parts[1]}'`);
  const rest = parts.slice(2).join('/');
  const key = `${method} ${rest.replace(/^guests\/[^/]+/, 'guests/:vmid').replace(/^nodes\/[^/]+/, 'nodes/:node')}`;
  const vmid = (): number => {
    const id = vmidOf(parts[3]);
    if (!c.guest(id)) throw new HttpError(404, 'not_found', `no guest ${id}`);
    return id;
  };
  switch (key) {
    case 'GET ':
      return [200, describe(c)];
    case 'GET guests':
      return [200, c.guests()];
    case 'GET guests/:vmid':
      return [200, c.guest(vmid())];
    case 'POST guests': {
      const opts = parse(Create, body);
      return [201, { vmid: act(() => c.createGuest(opts)) }];
    }
    case 'DELETE guests/:vmid': {
      const id = vmid();
      const { via } = parse(Destroy, body);
      const upid = act(() => c.destroyGuest(id, via === 'ui' ? 'ui' : undefined));
      return [200, { ok: true, upid }];
    }
    case 'POST guests/:vmid/power': {
      const id = vmid();
      const { action, via } = parse(Power, body);
      const upid = act(() => c.powerOutside(id, action, via === 'instant' ? undefined : via));
      return [200, { ...c.guest(id), upid }];
    }
    case 'POST guests/:vmid/migrate': {
      const id = vmid();
      const { node, via } = parse(Migrate, body);
      const upid = act(() => c.migrate(id, node, via === 'ui' ? 'ui' : undefined));
      return [200, { ...c.guest(id), upid }];
    }
    case 'POST guests/:vmid/clone': {
      const id = vmid();
      const opts = parse(Clone, body);
      return [201, act(() => c.cloneGuest(id, opts))];
    }
    case 'GET tasks':
      return [200, c.tasks()];
    case 'POST guests/:vmid/load': {
      const id = vmid();
      const { load } = parse(Load, body);
      act(() => c.setLoad(id, load));
      return [200, { vmid: id, load }];
    }
    case 'POST nodes/:node': {
      const { online } = parse(NodeState, body);
      act(() => c.setNodeOnline(decodeURIComponent(parts[3]), online));
      return [200, { ok: true }];
    }
    case 'POST fault':
      await c.setFault(parse(Fault, body));
      return [200, { ok: true }];
    case 'POST refresh':
      c.refreshNow();
      return [200, { ok: true }];
    case 'GET stats':
      return [200, c.stats()];
    case 'POST stats/reset':
      c.resetStats();
      return [200, { ok: true }];
    default:
      throw new HttpError(404, 'not_found', `no route ${method} /${parts.join('/')}`);
  }
}

/** Starts the control API; resolves with its URL and a close function. */
export async function startControlServer(clusters: SimCluster[], host: string, port: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const parts = new URL(req.url ?? '/', 'http://control').pathname.split('/').filter(Boolean);
    route(clusters, req.method ?? 'GET', parts, req)
      .then(([status, body]) => {
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      })
      .catch((e: unknown) => {
        const err = e instanceof HttpError ? e : new HttpError(500, 'internal', 'internal error');
        res.writeHead(err.status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { code: err.code, message: err.message } }));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${actual}`,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}
