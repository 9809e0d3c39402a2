// Prometheus metrics on labdeck's own registry: sync passes, Proxmox calls, guests, sockets and
// pushes, HTTP requests and power actions. Values that other modules already count (sync status,
// inventory summary, realtime stats) are read at scrape time instead of being pushed here.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import type { SyncStatus } from '../../contract/sync.js';

// prom-client's metric classes from their own modules: its entry point also loads the default
// collectors (with @opentelemetry/api), the Pushgateway client and the cluster aggregator, 1.5 MB
// of V8 heap against 0.1 MB for these four. The default collectors are loaded and started right
// after a production server starts listening, and in demo mode on the first scrape (render): a
// demo nobody scrapes carries none of them.
const require = createRequire(import.meta.url);
const Registry = require('prom-client/lib/registry.js') as typeof Prom.Registry;
const Counter = require('prom-client/lib/counter.js') as typeof Prom.Counter;
const Gauge = require('prom-client/lib/gauge.js') as typeof Prom.Gauge;
const Histogram = require('prom-client/lib/histogram.js') as typeof Prom.Histogram;

/** Cumulative counts the realtime hub reports; any field may be missing. */
export interface RealtimeCounts {
  sockets?: number;
  pushes?: number;
  bytes?: number;
}

export interface MetricsSources {
  syncStatus?: () => SyncStatus;
  guestSummary?: () => Promise<{ byCluster: Record<string, Record<string, number>> }>;
  realtime?: () => RealtimeCounts;
}

export type PowerOutcome = 'ok' | 'accepted' | 'denied' | 'conflict' | 'rejected' | 'proxmox_error' | 'error';

const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Maps the answer of a power-action route to its outcome label. */
export function powerOutcome(status: number): PowerOutcome {
  if (status === 200 || status === 201) return 'ok';
  if (status === 202) return 'accepted';
  if (status === 401 || status === 403) return 'denied';
  if (status === 409) return 'conflict';
  if (status === 502 || status === 504) return 'proxmox_error';
  if (status >= 400 && status < 500) return 'rejected';
  return 'error';
}

/** The metric set of one server process. */
export class Metrics {
  readonly registry = new Registry();
  private sources: MetricsSources = {};
  /** Newest pass start seen per cluster+kind, so each pass is observed once. */
  private readonly seenPasses = new Map<string, number>();
  private readonly realtimeSeen = { pushes: 0, bytes: 0 };

  readonly passDuration = new Histogram({
    name: 'labdeck_sync_pass_duration_seconds', help: 'Duration of sync passes',
    labelNames: ['cluster', 'kind', 'outcome'] as const, buckets: secondsBuckets, registers: [this.registry],
  });
  readonly rowsChanged = new Counter({
    name: 'labdeck_sync_rows_changed_total', help: 'Inventory rows changed by sync passes',
    labelNames: ['cluster', 'kind'] as const, registers: [this.registry],
  });
  readonly rowsPerPass = new Histogram({
    name: 'labdeck_sync_pass_rows_changed', help: 'Inventory rows changed by one sync pass',
    labelNames: ['cluster', 'kind'] as const, buckets: [0, 1, 5, 20, 100, 500, 2_000, 10_000, 50_000], registers: [this.registry],
  });
  readonly pveDuration = new Histogram({
    name: 'labdeck_pve_request_duration_seconds', help: 'Latency of calls to the Proxmox API',
    labelNames: ['cluster', 'endpoint'] as const, buckets: secondsBuckets, registers: [this.registry],
  });
  readonly pveErrors = new Counter({
    name: 'labdeck_pve_request_errors_total', help: 'Failed calls to the Proxmox API',
    labelNames: ['cluster', 'endpoint', 'reason'] as const, registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'labdeck_http_request_duration_seconds', help: 'HTTP requests served, by route and status',
    labelNames: ['method', 'route', 'status'] as const, buckets: secondsBuckets, registers: [this.registry],
  });
  readonly powerActions = new Counter({
    name: 'labdeck_power_actions_total', help: 'Power actions requested, by action and outcome',
    labelNames: ['action', 'outcome'] as const, registers: [this.registry],
  });
  readonly pushes = new Counter({
    name: 'labdeck_push_messages_total', help: 'socket.io messages pushed to clients', registers: [this.registry],
  });
  readonly pushBytes = new Counter({
    name: 'labdeck_push_bytes_total', help: 'Payload bytes pushed to clients over socket.io', registers: [this.registry],
  });

  /** The default collectors (process, heap, GC, event-loop delay) still to start at the first scrape. */
  private defaultMetricsPending: boolean;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.defaultMetricsPending = opts.defaultMetrics !== false;
    const self = this;
    new Gauge({
      name: 'labdeck_guests', help: 'Guests in the inventory by cluster and status',
      labelNames: ['cluster', 'status'] as const, registers: [this.registry],
      async collect() {
        this.reset();
        const summary = await self.sources.guestSummary?.();
        for (const [cluster, byStatus] of Object.entries(summary?.byCluster ?? {})) {
          for (const [status, n] of Object.entries(byStatus)) this.set({ cluster, status }, n);
        }
      },
    });
    new Gauge({
      name: 'labdeck_cluster_up', help: '1 when the last sync pass of the cluster succeeded and its data is fresh',
      labelNames: ['cluster'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const c of self.sources.syncStatus?.().clusters ?? []) this.set({ cluster: c.id }, c.consecutiveFailures === 0 && !c.stale && c.lastSuccessAt !== null ? 1 : 0);
      },
    });
    new Gauge({
      name: 'labdeck_cluster_consecutive_failures', help: 'Failed sync passes in a row',
      labelNames: ['cluster'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const c of self.sources.syncStatus?.().clusters ?? []) this.set({ cluster: c.id }, c.consecutiveFailures);
      },
    });
    new Gauge({
      name: 'labdeck_cluster_last_success_timestamp_seconds', help: 'When the cluster last had a successful pass',
      labelNames: ['cluster'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const c of self.sources.syncStatus?.().clusters ?? []) {
          if (c.lastSuccessAt !== null) this.set({ cluster: c.id }, c.lastSuccessAt / 1000);
        }
      },
    });
    new Gauge({
      name: 'labdeck_socket_connections', help: 'Connected socket.io clients', registers: [this.registry],
      collect() {
        const n = self.sources.realtime?.().sockets;
        if (typeof n === 'number') this.set(n);
      },
    });
  }

  /** Where scrape-time values come from; call again when a source appears later (e.g. realtime). */
  bind(sources: MetricsSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** Observes every pass in the sync status not seen before (called on `sync:status` and at scrape). */
  ingestSyncStatus(status: SyncStatus): void {
    for (const c of status.clusters) {
      for (const p of c.recentPasses) {
        const key = `${c.id}\u0000${p.kind}`;
        if (p.startedAt <= (this.seenPasses.get(key) ?? -1)) continue;
        this.seenPasses.set(key, p.startedAt);
        this.passDuration.observe({ cluster: c.id, kind: p.kind, outcome: p.error ? 'error' : 'ok' }, p.durationMs / 1000);
        this.rowsChanged.inc({ cluster: c.id, kind: p.kind }, Math.max(0, p.changed));
        if (!p.error) this.rowsPerPass.observe({ cluster: c.id, kind: p.kind }, Math.max(0, p.changed));
      }
    }
  }

  /** One call to Proxmox (the client reports each call). */
  observePveCall(cluster: string, endpoint: string, ms: number, error?: string | null): void {
    this.pveDuration.observe({ cluster, endpoint }, ms / 1000);
    if (error) this.pveErrors.inc({ cluster, endpoint, reason: error });
  }

  /** One HTTP request, labelled by its route pattern (not the raw path, to bound cardinality). */
  observeHttp(method: string, route: string, status: number, ms: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, ms / 1000);
  }

  /** One power action and how it ended for the caller. */
  observePowerAction(action: string, outcome: PowerOutcome): void {
    this.powerActions.inc({ action, outcome });
  }

  /** The Prometheus text exposition of everything. */
  /**
   * Loads and starts the default collectors if not yet done (at the first scrape otherwise). GC
   * durations and event-loop delay are observed from then on; process CPU, memory and start time
   * are read from the process at each scrape, so they are whole from the first. A production
   * server calls this right after it starts listening: loading the collectors' modules is a
   * ~20 ms stretch on the event loop, which the first scrape would otherwise take in the middle
   * of a lab's start (bench/lean.ts --cpu-prof).
   */
  startDefaultMetrics(): void {
    if (!this.defaultMetricsPending) return;
    this.defaultMetricsPending = false;
    (require('prom-client/lib/defaultMetrics.js') as typeof Prom.collectDefaultMetrics)({ register: this.registry, prefix: 'labdeck_' });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    this.startDefaultMetrics();
    const status = this.sources.syncStatus?.();
    if (status) this.ingestSyncStatus(status);
    const rt = this.sources.realtime?.();
    if (rt) {
      if (typeof rt.pushes === 'number' && rt.pushes > this.realtimeSeen.pushes) {
        this.pushes.inc(rt.pushes - this.realtimeSeen.pushes);
        this.realtimeSeen.pushes = rt.pushes;
      }
      if (typeof rt.bytes === 'number' && rt.bytes > this.realtimeSeen.bytes) {
        this.pushBytes.inc(rt.bytes - this.realtimeSeen.bytes);
        this.realtimeSeen.bytes = rt.bytes;
      }
    }
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Labels of recent paths: labdeck calls the same few paths (tasks, node lists, resources) many times a second. */
const endpointCache = new Map<string, string>();
const ENDPOINT_CACHE_MAX = 1_000;

/** A Proxmox API path as a bounded endpoint label: node names, vmids, UPIDs and user ids become placeholders. */
export function pveEndpoint(path: string): string {
  let label = endpointCache.get(path);
  if (label === undefined) {
    if (endpointCache.size >= ENDPOINT_CACHE_MAX) endpointCache.clear();
    endpointCache.set(path, (label = endpointOf(path)));
  }
  return label;
}

function endpointOf(path: string): string {
  return path
    .replace(/^\/api2\/json\//, '')
    .replace(/^nodes\/[^/]+/, 'nodes/{node}')
    .replace(/\/(qemu|lxc)\/\d+/, '/$1/{vmid}')
    .replace(/\/tasks\/[^/]+/, '/tasks/{upid}')
    .replace(/^access\/users\/[^/]+/, 'access/users/{userid}')
    .replace(/\/snapshot\/[^/]+/, '/snapshot/{snapname}');
}
