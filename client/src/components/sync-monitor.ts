// Admin — sync monitor: a card per cluster (health, passes, next run or backoff, guests, errors),
// a chart of pass durations and Proxmox latency, live inventory counts, the alert history (new
// alerts arrive over the socket), and a trigger button.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { LiveController, TickController } from '../lib/controllers.js';
import { apiGet, apiPost } from '../lib/api.js';
import { ago, until, statusInfo } from '../lib/format.js';
import { announce } from '../lib/announce.js';
import type { Point, Series } from '../lib/chart.js';
import type { LiveLink } from '../lib/live.js';
import type { SyncStatus, ClusterSyncStatus, ClusterHealth } from '../../../contract/sync.js';
import type { SyncAlertPush, SyncAlertsResponse } from '../../../contract/events.js';
import './sync-chart.js';

const HEALTH: Record<ClusterHealth, { label: string; tone: string }> = {
  healthy: { label: 'Healthy', tone: 'ok' },
  degraded: { label: 'Degraded', tone: 'warn' },
  down: { label: 'Down', tone: 'bad' },
  unknown: { label: 'Unknown', tone: 'off' },
};
const COLOURS = ['#2b7bd6', '#d6762b', '#2bb673', '#b62bd6', '#d62b52', '#8a8f2b', '#2bc0d6', '#6b6b6b'];

/** Proxmox latency (p95) above these is slow / very slow: the numbers turn amber / red. */
export const LATENCY_WARN_MS = 1000;
export const LATENCY_BAD_MS = 2500;

function latencyTone(ms: number | null): '' | 'warn' | 'bad' {
  if (ms === null) return '';
  return ms >= LATENCY_BAD_MS ? 'bad' : ms >= LATENCY_WARN_MS ? 'warn' : '';
}

@customElement('ld-sync-monitor')
export class SyncMonitor extends LitElement {
  static override styles = [base, css`
    .clusters { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 19rem), 1fr)); gap: 1rem; margin: .8rem 0 1.2rem; }
    dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem .8rem; margin: .5rem 0; font-size: .92rem; }
    dt { color: var(--muted); }
    dd { margin: 0; overflow-wrap: anywhere; }
    .two { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; }
    @media (max-width: 900px) { .two { grid-template-columns: 1fr; } }
    td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
    .lasterr { font-size: .85rem; }
    .alerts { margin-top: 1rem; }
    .alerts .scroll { max-height: 22rem; overflow: auto; }
    .alerts td { vertical-align: top; font-size: .92rem; }
    .alerts td.reason { overflow-wrap: anywhere; }
    .alerts time { white-space: nowrap; }
    .v-warn { color: var(--warn); font-weight: 700; }
    .v-bad { color: var(--bad); font-weight: 700; }
    table.nodes { margin: .3rem 0 .6rem; font-size: .9rem; }
    table.nodes td, table.nodes th { padding: .2rem .4rem; }
    @media (max-width: 600px) { .alerts .deliv { display: none; } }
  `];

  /** How many alerts the panel keeps (newest first). */
  static readonly ALERTS_SHOWN = 50;

  @property({ attribute: false }) link?: LiveLink;
  @state() private status: SyncStatus | null = null;
  @state() private error = '';
  @state() private triggering: string | null = null;
  @state() private alerts: SyncAlertPush[] | null = null;
  @state() private alertsEnabled = true;
  @state() private alertsError = '';
  private readonly live = new LiveController(this, () => this.link);
  private readonly tick = new TickController(this, 1000);
  /** Latency samples per cluster, collected from pushes (the server keeps only aggregates). */
  private readonly latency = new Map<string, Point[]>();
  private offState?: () => void;
  private offAlert?: () => void;
  private lastLinkState = '';
  private lastHealth = new Map<string, ClusterHealth>();

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
    void this.loadAlerts();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.offState?.();
    this.offAlert?.();
  }

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('link')) {
      this.live.bind();
      this.offState?.();
      this.offState = this.link?.onState(() => {
        if (this.link?.syncStatus && this.link.syncStatus !== this.status) this.take(this.link.syncStatus);
        // Alerts raised while the socket was away are fetched again once it is back.
        const st = this.link?.state ?? '';
        if (st === 'live' && this.lastLinkState && this.lastLinkState !== 'live') void this.loadAlerts();
        this.lastLinkState = st;
      });
      this.offAlert?.();
      this.offAlert = this.link?.onAlert((a) => this.addAlert(a));
    }
  }

  private async loadAlerts(): Promise<void> {
    try {
      const res = await apiGet<SyncAlertsResponse>(`/api/sync/alerts?limit=${SyncMonitor.ALERTS_SHOWN}`);
      this.alertsEnabled = res.enabled;
      const pushed = this.alerts ?? [];
      const seen = new Set(res.alerts.map((a) => a.id));
      this.alerts = [...pushed.filter((a) => !seen.has(a.id)), ...res.alerts]
        .sort((a, b) => b.at - a.at || b.id - a.id).slice(0, SyncMonitor.ALERTS_SHOWN);
      this.alertsError = '';
    } catch (err) {
      this.alertsError = `Could not load the alert history: ${(err as Error).message}`;
    }
  }

  private addAlert(a: SyncAlertPush): void {
    const list = (this.alerts ?? []).filter((x) => x.id !== a.id);
    this.alerts = [a, ...list].slice(0, SyncMonitor.ALERTS_SHOWN);
    const name = this.status?.clusters.find((c) => c.id === a.cluster)?.name || a.cluster;
    announce(a.kind === 'down' ? `Alert: cluster ${name} is down.` : `Cluster ${name} has recovered.`);
  }

  private clusterName(id: string): string {
    return this.status?.clusters.find((c) => c.id === id)?.name || id;
  }

  private deliveryText(d: Record<string, string>): string {
    const parts = Object.entries(d).map(([ch, st]) => `${ch}: ${st}`);
    return parts.length ? parts.join(' · ') : 'recorded only (no channel configured)';
  }

  private renderAlerts() {
    const list = this.alerts;
    let body;
    if (this.alertsError) body = html`<p class="error">${this.alertsError}</p>`;
    else if (list === null) body = html`<p class="muted">Loading…</p>`;
    else if (!this.alertsEnabled) body = html`<p class="muted" data-alerts-empty>Alerts are turned off in the config (<code>alerts.enabled</code>).</p>`;
    else if (list.length === 0) body = html`<p class="muted" data-alerts-empty>No alerts so far. labdeck raises one when a cluster's sync keeps failing and one more when it recovers.</p>`;
    else {
      body = html`<div class="scroll"><table aria-label="Alert history">
        <thead><tr><th>When</th><th>Cluster</th><th>Alert</th><th>Why</th><th class="deliv">Sent</th></tr></thead>
        <tbody>${list.map((a) => html`<tr data-alert=${a.id} data-alert-kind=${a.kind} data-cluster=${a.cluster}>
          <td><time datetime=${new Date(a.at).toISOString()} title=${new Date(a.at).toLocaleString()}>${ago(a.at, this.tick.now)}</time></td>
          <td>${this.clusterName(a.cluster)}</td>
          <td><span class="badge tone-${a.kind === 'down' ? 'bad' : 'ok'}">${a.kind === 'down' ? 'Down' : 'Recovered'}</span></td>
          <td class="reason">${a.reason}</td>
          <td class="deliv muted">${this.deliveryText(a.deliveries)}</td>
        </tr>`)}</tbody>
      </table></div>`;
    }
    return html`<section class="card alerts" aria-label="Alerts"><h2>Alerts</h2>${body}</section>`;
  }

  private async load(): Promise<void> {
    try {
      this.take(await apiGet<SyncStatus>('/api/sync/status'));
      this.error = '';
    } catch (err) {
      this.error = (err as Error).message;
    }
  }

  private take(s: SyncStatus): void {
    const now = Date.now();
    for (const c of s.clusters) {
      if (c.latencyMs.p95 !== null) {
        const pts = this.latency.get(c.id) ?? [];
        if (!pts.length || now - pts[pts.length - 1].t > 900) pts.push({ t: now, v: c.latencyMs.p95 });
        while (pts.length > 600) pts.shift();
        this.latency.set(c.id, pts);
      }
      const before = this.lastHealth.get(c.id);
      if (before && before !== c.health) announce(`Cluster ${c.name || c.id} is ${HEALTH[c.health].label.toLowerCase()}.`);
      this.lastHealth.set(c.id, c.health);
    }
    this.status = s;
  }

  private async trigger(cluster?: string): Promise<void> {
    this.triggering = cluster ?? 'all';
    try {
      await apiPost('/api/sync/trigger', cluster ? { cluster, kind: 'full' } : { kind: 'full' });
      announce(cluster ? `Full sync of ${cluster} done.` : 'Full sync of all clusters done.');
      this.error = '';
    } catch (err) {
      this.error = `Trigger failed: ${(err as Error).message}`;
    } finally {
      this.triggering = null;
    }
  }

  private renderCluster(c: ClusterSyncStatus) {
    const h = HEALTH[c.health] ?? HEALTH.unknown;
    const now = this.tick.now;
    return html`<section class="card" aria-label=${`Cluster ${c.name || c.id}`} data-cluster=${c.id} data-health=${c.health}>
      <div class="row"><h2>${c.name || c.id}</h2><span class="spacer"></span><span class="badge tone-${h.tone}" data-health-badge>${h.label}</span></div>
      <dl>
        <dt>Last full pass</dt><dd>${ago(c.lastFullAt, now)}</dd>
        <dt>Last quick pass</dt><dd>${ago(c.lastQuickAt, now)}</dd>
        <dt>${c.backoffMs > 0 ? 'Retry (backoff)' : 'Next run'}</dt><dd>${c.running ? `running (${c.running})` : until(c.nextRunAt, now)}${c.backoffMs > 0 ? ` · backoff ${Math.round(c.backoffMs / 1000)} s` : ''}</dd>
        <dt>Guests</dt><dd>${c.guests}</dd>
        ${c.leader !== undefined ? html`<dt>Synced by</dt><dd data-leader>${c.leader ?? html`<span class="badge tone-warn">no instance (taking over)</span>`}${c.leader && c.leader === this.status?.instance ? ' (this instance)' : ''}</dd>` : nothing}
        <dt>Latency</dt><dd>${c.latencyMs.p50 ?? '—'} ms p50 · <span class=${latencyTone(c.latencyMs.p95) ? `v-${latencyTone(c.latencyMs.p95)}` : ''} data-p95>${c.latencyMs.p95 ?? '—'} ms p95${latencyTone(c.latencyMs.p95) ? ` (${latencyTone(c.latencyMs.p95) === 'bad' ? 'very slow' : 'slow'})` : ''}</span></dd>
        <dt>Errors</dt><dd>${c.errorCount}${c.consecutiveFailures ? ` (${c.consecutiveFailures} in a row)` : ''}</dd>
        ${c.stale ? html`<dt>Data</dt><dd><span class="badge tone-warn">Stale</span> since ${ago(c.lastSuccessAt, now)}</dd>` : nothing}
      </dl>
      ${this.renderNodes(c)}
      ${c.lastError ? html`<p class="error lasterr">Last error ${ago(c.lastErrorAt, now)}: ${c.lastError}</p>` : nothing}
      <button @click=${() => this.trigger(c.id)} ?disabled=${this.triggering !== null}>${this.triggering === c.id ? 'Syncing…' : 'Sync now'}</button>
    </section>`;
  }

  /** Per node: online or offline (as the sync reports it) and its guests (running / all, from the inventory). */
  private renderNodes(c: ClusterSyncStatus) {
    const reported = c.nodes;
    const guests = new Map<string, { all: number; running: number }>();
    for (const vm of this.link?.store.vms.values() ?? []) {
      if (vm.cluster !== c.id) continue;
      const g = guests.get(vm.node) ?? { all: 0, running: 0 };
      g.all++;
      if (vm.status === 'running') g.running++;
      guests.set(vm.node, g);
    }
    const names = [...new Set([...reported.map((n) => n.name), ...guests.keys()])].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    if (names.length === 0) return nothing;
    const online = new Map(reported.map((n) => [n.name, n.online]));
    return html`<table class="nodes" aria-label=${`Nodes of ${c.name || c.id}`}>
      <thead><tr><th scope="col">Node</th><th scope="col">State</th><th scope="col" class="n">Guests (running)</th></tr></thead>
      <tbody>${names.map((n) => {
        const on = online.get(n);
        const g = guests.get(n) ?? { all: 0, running: 0 };
        return html`<tr data-node=${n} data-online=${on === undefined ? 'unknown' : String(on)}>
          <th scope="row">${n}</th>
          <td>${on === undefined ? html`<span class="muted">not reported</span>` : on ? html`<span class="badge tone-ok">Online</span>` : html`<span class="badge tone-bad">Offline</span>`}</td>
          <td class="n">${g.all} (${g.running})</td>
        </tr>`;
      })}</tbody>
    </table>`;
  }

  private chartSeries(s: SyncStatus): Series[] {
    const out: Series[] = [];
    s.clusters.forEach((c, i) => {
      const colour = COLOURS[i % COLOURS.length];
      out.push({ label: `${c.name || c.id} pass`, colour, points: c.recentPasses.map((p) => ({ t: p.startedAt + p.durationMs, v: p.durationMs })) });
      // p95 holds until the next sample: drawn as a line to now, never a lone dot.
      const lat = this.latency.get(c.id) ?? [];
      out.push({ label: `${c.name || c.id} latency p95`, colour, dashed: true, points: lat.length ? [...lat, { t: this.tick.now, v: lat[lat.length - 1].v }] : [] });
    });
    return out;
  }

  private renderCounts() {
    const store = this.link?.store;
    if (!store) return nothing;
    const by = new Map<string, Map<string, number>>();
    const statuses = new Set<string>();
    for (const vm of store.vms.values()) {
      let m = by.get(vm.cluster);
      if (!m) by.set(vm.cluster, (m = new Map()));
      m.set(vm.status, (m.get(vm.status) ?? 0) + 1);
      statuses.add(vm.status);
    }
    const cols = [...statuses].sort();
    const clusters = [...by.keys()].sort();
    return html`<table aria-label="Inventory by cluster and status">
      <thead><tr><th>Cluster</th>${cols.map((s) => html`<th class="n">${statusInfo(s).label}</th>`)}<th class="n">Total</th></tr></thead>
      <tbody>${clusters.map((c) => {
        const m = by.get(c)!;
        let total = 0;
        for (const n of m.values()) total += n;
        return html`<tr data-cluster=${c}><th scope="row">${this.clusterName(c)}</th>${cols.map((s) => html`<td class="n">${m.get(s) ?? 0}</td>`)}<td class="n">${total}</td></tr>`;
      })}</tbody>
    </table>`;
  }

  /** Chart span: from the oldest sample (at least 2 min, at most 30 min). */
  private span(series: Series[]): number {
    let oldest = this.tick.now;
    for (const x of series) for (const p of x.points) oldest = Math.min(oldest, p.t);
    return Math.min(30 * 60_000, Math.max(2 * 60_000, Math.ceil((this.tick.now - oldest) / 60_000) * 60_000));
  }

  override render() {
    const s = this.status;
    const series = s ? this.chartSeries(s) : [];
    return html`<div class="row"><h1>Sync monitor</h1><span class="spacer"></span>
        <button class="primary" @click=${() => this.trigger()} ?disabled=${this.triggering !== null}>${this.triggering === 'all' ? 'Syncing…' : 'Full sync now'}</button></div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${!s ? html`<p class="muted">Loading…</p>` : html`
        <p class="muted">${s.totals.guests} guests · ${s.clusters.length} ${s.clusters.length === 1 ? 'cluster' : 'clusters'} · ${s.totals.clustersDown} down · ${s.totals.errorCount} errors${s.instance ? html` · answered by instance <span data-instance>${s.instance}</span>` : nothing}</p>
        <div class="clusters">${s.clusters.map((c) => this.renderCluster(c))}</div>
        <div class="two">
          <section class="card"><h2>Pass duration and Proxmox latency</h2>
            <ld-sync-chart .series=${series} .now=${this.tick.now} .spanMs=${this.span(series)} .threshold=${LATENCY_WARN_MS}></ld-sync-chart></section>
          <section class="card"><h2>Inventory</h2>${this.renderCounts()}</section>
        </div>
        ${this.renderAlerts()}`}`;
  }
}
