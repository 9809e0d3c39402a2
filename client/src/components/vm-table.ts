// Admin — all VMs: a virtualised table (only the rows in view are in the DOM) that stays smooth
// at 20,000 rows, with sort, filters and search, updated live from the store.
import { LitElement, html, css } from 'lit';
import { customElement, property, state, query } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { LiveController, TickController } from '../lib/controllers.js';
import { queryVms, visibleWindow, type SortKey, type VmQuery } from '../lib/vm-query.js';
import { statusInfo, ipText, percent, ago } from '../lib/format.js';
import type { LiveLink } from '../lib/live.js';
import type { Vm } from '../../../server/inventory/vm.js';

const ROW = 36;
const COLUMNS: Array<{ key: SortKey; label: string }> = [
  { key: 'name', label: 'Name' }, { key: 'vmid', label: 'VMID' }, { key: 'cluster', label: 'Cluster' },
  { key: 'node', label: 'Node' }, { key: 'status', label: 'Status' }, { key: 'ip', label: 'IP' },
  { key: 'cpu', label: 'CPU' }, { key: 'memory', label: 'Memory' }, { key: 'lastUpdated', label: 'Updated' },
];
const STATUSES = ['running', 'stopped', 'paused', 'suspended', 'unknown', 'starting', 'stopping', 'shutting-down', 'rebooting'];

@customElement('ld-vm-table')
export class VmTable extends LitElement {
  static override styles = [base, css`
    .filters { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin-bottom: .6rem; }
    .filters label { display: grid; gap: .2rem; font-size: .85rem; color: var(--muted); }
    .grid-row { display: grid; grid-template-columns: minmax(10rem, 2fr) 5rem 6rem 5rem 9rem minmax(8rem, 1.3fr) 4.5rem 5rem 7rem; align-items: center; height: ${ROW}px; padding: 0 .5rem; border-bottom: 1px solid var(--border); gap: .5rem; font-size: .9rem; }
    .grid-row > span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .head { font-weight: 600; background: var(--surface-2); border-radius: 6px 6px 0 0; }
    .head button { border: 0; background: none; padding: 0; min-height: 0; font-weight: 600; color: var(--text); }
    .scroller { height: calc(100vh - 15rem); min-height: 16rem; overflow: auto; position: relative; background: var(--surface); border: 1px solid var(--border); border-top: 0; contain: strict; }
    .spacer { position: relative; }
    .rows { position: absolute; left: 0; right: 0; top: 0; will-change: transform; }
    .wrap { overflow-x: auto; }
    .inner { min-width: 62rem; }
    .badge { font-size: .8rem; }
  `];

  @property({ attribute: false }) link?: LiveLink;
  @state() private q: VmQuery = { sort: 'name', dir: 'asc' };
  @state() private scrollPos = 0;
  @state() private viewport = 600;
  @query('.scroller') private scroller?: HTMLElement;
  private readonly live = new LiveController(this, () => this.link);
  private readonly tick = new TickController(this, 5000);
  private memo: { version: number; q: VmQuery; rows: Vm[] } | null = null;
  private resize?: ResizeObserver;
  private searchTimer: ReturnType<typeof setTimeout> | undefined;

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('link')) this.live.bind();
  }

  override firstUpdated(): void {
    this.resize = new ResizeObserver(() => { this.viewport = this.scroller?.clientHeight ?? 600; });
    if (this.scroller) this.resize.observe(this.scroller);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.resize?.disconnect();
  }

  private rows(): Vm[] {
    const store = this.link?.store;
    if (!store) return [];
    if (this.memo && this.memo.version === store.version && this.memo.q === this.q) return this.memo.rows;
    const rows = queryVms(store.vms.values(), this.q);
    this.memo = { version: store.version, q: this.q, rows };
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

  private scrollToTop(): void {
    if (this.scroller) this.scroller.scrollTop = 0;
    this.scrollPos = 0;
  }

  private onScroll(): void {
    this.scrollPos = this.scroller?.scrollTop ?? 0;
  }

  private renderRow(vm: Vm, index: number) {
    const s = statusInfo(vm.status);
    return html`<div class="grid-row" role="row" aria-rowindex=${index + 2} data-vm=${vm.id}>
      <span role="cell" title=${vm.name}>${vm.name}</span>
      <span role="cell">${vm.vmid}</span>
      <span role="cell">${vm.cluster}</span>
      <span role="cell">${vm.node}</span>
      <span role="cell"><span class="badge tone-${s.tone}">${s.label}</span>${vm.stale ? html` <span class="muted" title="stale">⚠</span>` : ''}</span>
      <span role="cell" class=${vm.ip ? 'mono' : 'muted'}>${ipText(vm)}</span>
      <span role="cell">${percent(vm.cpu)}</span>
      <span role="cell">${percent(vm.memory)}</span>
      <span role="cell" class="muted">${ago(vm.lastUpdated, this.tick.now)}</span>
    </div>`;
  }

  override render() {
    const store = this.link?.store;
    const rows = this.rows();
    const { start, end } = visibleWindow(rows.length, this.scrollPos, this.viewport, ROW);
    const clusters = store ? [...new Set([...store.vms.values()].map((v) => v.cluster))].sort() : [];
    const total = store?.vms.size ?? 0;
    return html`<h1>All VMs</h1>
      <div class="filters" role="search">
        <label>Search <input type="search" placeholder="name, vmid, IP, tag" @input=${this.onSearch} aria-label="Search VMs"></label>
        <label>Status <select @change=${(e: Event) => this.setFilter('status', (e.target as HTMLSelectElement).value)}>
          <option value="">any</option>${STATUSES.map((s) => html`<option value=${s}>${statusInfo(s).label}</option>`)}
        </select></label>
        <label>Cluster <select @change=${(e: Event) => this.setFilter('cluster', (e.target as HTMLSelectElement).value)}>
          <option value="">any</option>${clusters.map((c) => html`<option>${c}</option>`)}
        </select></label>
        <label>Type <select @change=${(e: Event) => this.setFilter('type', (e.target as HTMLSelectElement).value)}>
          <option value="">any</option><option value="qemu">VM</option><option value="lxc">container</option>
        </select></label>
        <span class="muted" aria-live="polite" data-count>${rows.length.toLocaleString()} of ${total.toLocaleString()} VMs</span>
      </div>
      <div class="wrap"><div class="inner" role="table" aria-label="All VMs" aria-rowcount=${rows.length + 1}>
        <div class="grid-row head" role="row" aria-rowindex="1">
          ${COLUMNS.map((c) => html`<span role="columnheader" aria-sort=${this.q.sort === c.key ? (this.q.dir === 'desc' ? 'descending' : 'ascending') : 'none'}>
            <button @click=${() => this.sortBy(c.key)}>${c.label}${this.q.sort === c.key ? (this.q.dir === 'desc' ? ' ▼' : ' ▲') : ''}</button></span>`)}
        </div>
        <div class="scroller" tabindex="0" aria-label="VM rows (scroll with arrow keys)" @scroll=${this.onScroll}>
          <div class="spacer" style="height:${rows.length * ROW}px">
            <div class="rows" role="rowgroup" style="transform:translateY(${start * ROW}px)">
              ${rows.slice(start, end).map((vm, i) => this.renderRow(vm, start + i))}
            </div>
          </div>
        </div>
      </div></div>`;
  }
}
