// Admin — all VMs: a virtualised table (only the rows in view are in the DOM) that stays smooth
// at 20,000 rows, with sort, filters and a search over names, tags, owners, vmid and IP, updated
// live from the store. An empty result says so and offers to clear the filters; a row opens a
// detail view with the VM's actions; templates are marked; clusters carry the names the sync
// monitor uses.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state, query } from 'lit/decorators.js';
import { repeat } from 'lit/directives/repeat.js';
import { base } from '../lib/styles.js';
import { LiveController, TickController } from '../lib/controllers.js';
import { queryVms, visibleWindow, type SortKey, type VmQuery } from '../lib/vm-query.js';
import { statusInfo, ipText, percent, ago, bytes } from '../lib/format.js';
import { apiGet } from '../lib/api.js';
import { listClasses, getClass } from '../lib/classes.js';
import type { LiveLink } from '../lib/live.js';
import { vmStatuses, type Vm } from '../../../contract/vm.js';
import type { SyncStatus } from '../../../contract/sync.js';
import './vm-row-actions.js';
import './vm-history.js';

const ROW = 36;
const COLUMNS: Array<{ key: SortKey; label: string; title?: string }> = [
  { key: 'name', label: 'Name' }, { key: 'vmid', label: 'VMID' }, { key: 'cluster', label: 'Cluster' },
  { key: 'node', label: 'Node' }, { key: 'status', label: 'Status' }, { key: 'ip', label: 'IP' },
  { key: 'cpu', label: 'CPU' }, { key: 'memory', label: 'Memory' },
  { key: 'lastUpdated', label: 'Last change', title: 'When this VM last changed (status, address, load); not how fresh the data is' },
];

@customElement('ld-vm-table')
export class VmTable extends LitElement {
  static override styles = [base, css`
    .filters { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin-bottom: .6rem; }
    .filters label { display: grid; gap: .2rem; font-size: .85rem; color: var(--muted); }
    .grid-row { display: grid; grid-template-columns: minmax(12rem, 2fr) 5rem 7rem 5rem 9rem minmax(8rem, 1.3fr) 4.5rem 5rem 7rem; align-items: center; height: ${ROW}px; padding: 0 .5rem; border-bottom: 1px solid var(--border); gap: .5rem; font-size: .9rem; min-width: 64rem; }
    .grid-row > span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .head { font-weight: 600; background: var(--surface-2); position: sticky; top: 0; z-index: 1; }
    .head button { border: 0; background: none; padding: 0; min-height: 0; font-weight: 600; color: var(--text); }
    .scroller { height: calc(100vh - 15rem); min-height: 16rem; overflow: auto; position: relative; background: var(--surface); border: 1px solid var(--border); border-radius: 6px; contain: strict; }
    .spacer { position: relative; min-width: 64rem; }
    .rows { position: absolute; left: 0; right: 0; top: 0; will-change: transform; }
    .badge { font-size: .8rem; }
    button.open { border: 0; background: none; padding: 0; min-height: 0; color: var(--accent); font: inherit; text-decoration: underline; text-underline-offset: 2px; max-width: 100%; overflow: hidden; text-overflow: ellipsis; display: inline; }
    .tpl { font-size: .72rem; padding: 0 .4rem; margin-left: .3rem; }
    .tpl::before { display: none; }
    .empty { padding: 2rem 1rem; text-align: center; display: grid; gap: .6rem; justify-items: center; }
    dialog { border: 1px solid var(--border); border-radius: var(--radius); background: var(--surface); color: var(--text); padding: 1.2rem; width: min(36rem, 94vw); }
    dialog::backdrop { background: rgb(0 0 0 / 40%); }
    dl { display: grid; grid-template-columns: auto 1fr; gap: .3rem .9rem; margin: .6rem 0 1rem; }
    dt { color: var(--muted); }
    dd { margin: 0; overflow-wrap: anywhere; }
  `];

  @property({ attribute: false }) link?: LiveLink;
  @state() private q: VmQuery = { sort: 'name', dir: 'asc' };
  @state() private scrollPos = 0;
  @state() private viewport = 600;
  @state() private detailId: string | null = null;
  @state() private clusterNames = new Map<string, string>();
  /** VM key → the students it is assigned to (for the owner search and the detail view). */
  @state() private owners = new Map<string, string>();
  @query('.scroller') private scroller?: HTMLElement;
  @query('dialog') private dialog?: HTMLDialogElement;
  @query('input[type=search]') private searchBox?: HTMLInputElement;
  private readonly live = new LiveController(this, () => this.link);
  private readonly tick = new TickController(this, 5000);
  private memo: { version: number; q: VmQuery; owners: Map<string, string>; rows: Vm[] } | null = null;
  private resize?: ResizeObserver;
  private searchTimer: ReturnType<typeof setTimeout> | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.loadNames();
    void this.loadOwners();
  }

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('link')) this.live.bind();
    // The VM of an open detail view left the inventory (destroyed, or access lost): its dialog is
    // gone from the page, so close it properly and give focus a place instead of the page body.
    if (this.detailId && !this.link?.store.vms.has(this.detailId)) void this.closeDetail();
    if (changed.has('detailId')) {
      if (this.detailId && this.dialog && !this.dialog.open) this.dialog.showModal();
      const vm = this.detailId ? this.link?.store.vms.get(this.detailId) : undefined;
      document.title = vm ? `${vm.name} · labdeck` : 'All VMs · labdeck';
    }
  }

  override firstUpdated(): void {
    this.resize = new ResizeObserver(() => { this.viewport = this.scroller?.clientHeight ?? 600; });
    if (this.scroller) this.resize.observe(this.scroller);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.resize?.disconnect();
  }

  /** Cluster display names, as the sync monitor shows them. */
  private async loadNames(): Promise<void> {
    try {
      const s = this.link?.syncStatus ?? await apiGet<SyncStatus>('/api/sync/status');
      this.clusterNames = new Map(s.clusters.map((c) => [c.id, c.name || c.id]));
    } catch {
      // Ids stand in for names.
    }
  }

  /** Who each VM is assigned to, from the classes (one request per class, once). */
  private async loadOwners(): Promise<void> {
    try {
      const classes = await listClasses();
      const details = await Promise.all(classes.map((c) => getClass(c.id).catch(() => null)));
      const owners = new Map<string, string>();
      for (const d of details) {
        if (!d) continue;
        const names = new Map(d.students.map((s) => [s.id, `${s.displayName} (${s.username})`]));
        for (const a of d.assignments) {
          const who = names.get(a.userId);
          if (who) owners.set(a.key, owners.has(a.key) ? `${owners.get(a.key)}, ${who}` : who);
        }
      }
      this.owners = owners;
    } catch {
      // Without classes the search still covers names, tags, ids and addresses.
    }
  }

  private clusterName(id: string): string {
    return this.clusterNames.get(id) ?? id;
  }

  private rows(): Vm[] {
    const store = this.link?.store;
    if (!store) return [];
    if (this.memo && this.memo.version === store.version && this.memo.q === this.q && this.memo.owners === this.owners) return this.memo.rows;
    const rows = queryVms(store.vms.values(), this.q, (vm) => this.owners.get(vm.id));
    this.memo = { version: store.version, q: this.q, owners: this.owners, rows };
    return rows;
  }

  private sortBy(key: SortKey): void {
    const dir = this.q.sort === key && this.q.dir === 'asc' ? 'desc' : 'asc';
    this.q = { ...this.q, sort: key, dir };
  }

  private onSearch(e: InputEvent): void {
    const value = (e.target as HTMLInputElement).value;
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => { this.q = { ...this.q, q: value }; this.scrollToTop(); }, 120);
  }

  private setFilter(key: 'status' | 'cluster' | 'type', value: string): void {
    this.q = { ...this.q, [key]: value || undefined };
    this.scrollToTop();
  }

  private clearFilters(): void {
    this.q = { sort: this.q.sort, dir: this.q.dir };
    if (this.searchBox) this.searchBox.value = '';
    for (const s of this.renderRoot.querySelectorAll<HTMLSelectElement>('.filters select')) s.value = '';
    this.scrollToTop();
    this.searchBox?.focus();
  }

  private scrollToTop(): void {
    if (this.scroller) this.scroller.scrollTop = 0;
    this.scrollPos = 0;
  }

  private onScroll(): void {
    this.scrollPos = this.scroller?.scrollTop ?? 0;
  }

  private open(vm: Vm): void {
    this.detailId = vm.id;
  }

  private async closeDetail(): Promise<void> {
    const id = this.detailId;
    this.dialog?.close();
    this.detailId = null;
    await this.updateComplete;
    // Rows are keyed by VM, so this VM's row, when rendered, holds the button that opened the
    // dialog; the list may have re-filtered or scrolled it away meanwhile, then the search box.
    const row = id ? this.renderRoot.querySelector<HTMLElement>(`[data-vm="${CSS.escape(id)}"] button.open`) : null;
    (row ?? this.searchBox)?.focus();
  }

  private renderRow(vm: Vm, index: number) {
    const s = statusInfo(vm.status);
    return html`<div class="grid-row" role="row" aria-rowindex=${index + 2} data-vm=${vm.id} ?data-template=${vm.template}>
      <span role="cell" title=${vm.name}><button class="open" @click=${() => this.open(vm)} aria-label=${`${vm.name}: details and actions`}>${vm.name}</button>${vm.template ? html`<span class="badge tone-off tpl">template</span>` : nothing}</span>
      <span role="cell">${vm.vmid}</span>
      <span role="cell" title=${vm.cluster}>${this.clusterName(vm.cluster)}</span>
      <span role="cell">${vm.node}</span>
      <span role="cell"><span class="badge tone-${s.tone}">${s.label}</span>${vm.stale ? html` <span class="muted" title="Proxmox has not answered recently">⚠ stale</span>` : ''}</span>
      <span role="cell" class=${vm.ip ? 'mono' : 'muted'}>${ipText(vm)}</span>
      <span role="cell">${percent(vm.cpu)}</span>
      <span role="cell">${percent(vm.memory)}</span>
      <span role="cell" class="muted" title=${new Date(vm.lastUpdated).toLocaleString()}>${ago(vm.lastUpdated, this.tick.now)}</span>
    </div>`;
  }

  private renderDetail() {
    const vm = this.detailId ? this.link?.store.vms.get(this.detailId) : undefined;
    if (!vm) return nothing;
    const s = statusInfo(vm.status);
    return html`<dialog aria-labelledby="detail-h" @close=${() => { if (this.detailId) void this.closeDetail(); }} data-detail=${vm.id}>
      <div class="row"><h2 id="detail-h">${vm.name}</h2><span class="badge tone-${s.tone}">${s.label}</span>${vm.template ? html`<span class="badge tone-off">template</span>` : nothing}</div>
      <dl>
        <dt>VM</dt><dd>#${vm.vmid} · ${vm.type === 'lxc' ? 'container' : 'VM'} · ${vm.category}</dd>
        <dt>Cluster · node</dt><dd>${this.clusterName(vm.cluster)} · ${vm.node}</dd>
        <dt>Address</dt><dd class=${vm.ip ? 'mono' : 'muted'}>${ipText(vm)}</dd>
        <dt>Size</dt><dd>${vm.cores ?? '—'} ${vm.cores === 1 ? 'core' : 'cores'} · ${bytes(vm.maxMemory)}</dd>
        <dt>Load</dt><dd>CPU ${percent(vm.cpu)} · memory ${percent(vm.memory)}</dd>
        <dt>Assigned to</dt><dd>${this.owners.get(vm.id) ?? html`<span class="muted">nobody</span>`}</dd>
        <dt>Tags · pool</dt><dd>${vm.tags.length ? vm.tags.join(', ') : '—'} · ${vm.pool ?? 'no Proxmox pool'}</dd>
        <dt>Last change</dt><dd>${new Date(vm.lastUpdated).toLocaleString()} (${ago(vm.lastUpdated, this.tick.now)})</dd>
        <dt>Last seen</dt><dd>${vm.lastSeen ? ago(vm.lastSeen, this.tick.now) : 'never'}${vm.stale ? ' · stale: Proxmox has not answered recently' : ''}</dd>
        ${vm.syncError ? html`<dt>Problem</dt><dd class="error">${vm.syncError}</dd>` : nothing}
      </dl>
      ${vm.template ? html`<p class="muted">A template is a master copy: it cannot be started.</p>` : html`<ld-vm-row-actions .vm=${vm} ?offline=${this.link?.state !== 'live'}></ld-vm-row-actions>`}
      <ld-vm-history .vmid=${vm.vmid} .cluster=${vm.cluster}></ld-vm-history>
      <div class="row" style="margin-top:1rem"><span class="spacer"></span><button @click=${() => void this.closeDetail()}>Close</button></div>
    </dialog>`;
  }

  override render() {
    const store = this.link?.store;
    const rows = this.rows();
    const { start, end } = visibleWindow(rows.length, Math.max(0, this.scrollPos - ROW), this.viewport - ROW, ROW);
    const clusters = store ? [...new Set([...store.vms.values()].map((v) => v.cluster))].sort() : [];
    const total = store?.vms.size ?? 0;
    const filtered = Boolean(this.q.q || this.q.status || this.q.cluster || this.q.type);
    return html`<h1>All VMs</h1>
      <div class="filters" role="search" aria-label="Filter VMs">
        <label>Search <input type="search" placeholder="name, tag, owner, vmid, IP" @input=${this.onSearch} aria-label="Search VMs"></label>
        <label>Status <select @change=${(e: Event) => this.setFilter('status', (e.target as HTMLSelectElement).value)}>
          <option value="">any</option>${vmStatuses.map((s) => html`<option value=${s}>${statusInfo(s).label}</option>`)}
        </select></label>
        <label>Cluster <select @change=${(e: Event) => this.setFilter('cluster', (e.target as HTMLSelectElement).value)}>
          <option value="">any</option>${clusters.map((c) => html`<option value=${c}>${this.clusterName(c)}</option>`)}
        </select></label>
        <label>Type <select @change=${(e: Event) => this.setFilter('type', (e.target as HTMLSelectElement).value)}>
          <option value="">any</option><option value="qemu">VM</option><option value="lxc">container</option>
        </select></label>
        <span class="muted" aria-live="polite" data-count>${rows.length.toLocaleString()} of ${total.toLocaleString()} VMs</span>
      </div>
      <div class="scroller" role="table" tabindex="0" aria-label="All VMs (scroll with the arrow keys)" aria-rowcount=${rows.length + 1} @scroll=${this.onScroll}>
        <div role="rowgroup"><div class="grid-row head" role="row" aria-rowindex="1">
          ${COLUMNS.map((c) => html`<span role="columnheader" title=${c.title ?? nothing} aria-sort=${this.q.sort === c.key ? (this.q.dir === 'desc' ? 'descending' : 'ascending') : 'none'}>
            <button @click=${() => this.sortBy(c.key)}>${c.label}${this.q.sort === c.key ? (this.q.dir === 'desc' ? ' ▼' : ' ▲') : ''}</button></span>`)}
        </div></div>
        ${rows.length === 0 && store?.loaded ? html`<div role="rowgroup"><div role="row"><div role="cell" class="empty" data-empty>
            ${filtered ? html`<p>No VM matches these filters.</p><button class="primary" @click=${this.clearFilters}>Clear filters</button>`
              : html`<p>labdeck knows no VM yet: the first sync pass may still be running (see the sync monitor).</p>`}
          </div></div></div>` : html`<div class="spacer" role="presentation" style="height:${rows.length * ROW}px">
            <div class="rows" role="rowgroup" style="transform:translateY(${start * ROW}px)">
              ${repeat(rows.slice(start, end), (vm) => vm.id, (vm, i) => this.renderRow(vm, start + i))}
            </div>
          </div>`}
      </div>
      ${this.renderDetail()}`;
  }
}
