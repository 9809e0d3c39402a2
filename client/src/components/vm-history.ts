// A VM's recent history, folded away on its card: one bar per day for the share of the day it was
// up, and its last status changes. Loaded only when opened (GET /api/vm/:vmid/history).
import { LitElement, html, css } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { apiGet, qs } from '../lib/api.js';
import { statusInfo } from '../lib/format.js';
import type { VmHistory } from '../../../contract/vm-history.js';

@customElement('ld-vm-history')
export class VmHistoryView extends LitElement {
  static override styles = [base, css`
    summary { cursor: pointer; font-size: .9rem; color: var(--muted); }
    .days { display: flex; align-items: flex-end; gap: 2px; height: 3rem; margin: .5rem 0 .2rem; }
    .day { flex: 1; background: var(--surface-2); border-radius: 2px; height: 100%; display: flex; align-items: flex-end; }
    .day span { display: block; width: 100%; background: var(--ok); border-radius: 2px; }
    .axis { display: flex; justify-content: space-between; font-size: .75rem; color: var(--muted); }
    ul { list-style: none; padding: 0; margin: .4rem 0 0; font-size: .85rem; }
    li { padding: .1rem 0; }
  `];

  @property({ type: Number }) vmid = 0;
  @property() cluster = '';
  @state() private history: VmHistory | null = null;
  @state() private error = '';

  private async onToggle(e: Event): Promise<void> {
    if (!(e.target as HTMLDetailsElement).open) return;
    try {
      this.history = await apiGet<VmHistory>(`/api/vm/${this.vmid}/history${qs({ cluster: this.cluster, days: 14 })}`);
      this.error = '';
    } catch (err) {
      this.error = `History unavailable: ${(err as Error).message}`;
    }
  }

  private renderBody() {
    if (this.error) return html`<p class="error small">${this.error}</p>`;
    const h = this.history;
    if (!h) return html`<p class="muted small">Loading…</p>`;
    const total = h.days.reduce((n, d) => n + d.uptimeSeconds, 0);
    const recent = [...h.changes].reverse().slice(0, 5);
    return html`<div class="days" role="img" aria-label=${`Up ${Math.round(total / 3600)} hours in the last ${h.days.length} days`}>
        ${h.days.map((d) => html`<div class="day" title=${`${d.date}: up ${Math.round(d.upFraction * 100)} %`}><span style="height:${Math.round(d.upFraction * 100)}%"></span></div>`)}
      </div>
      <div class="axis"><span>${h.days[0]?.date ?? ''}</span><span>today</span></div>
      ${recent.length ? html`<ul>${recent.map((c) => html`<li>${new Date(c.at).toLocaleString()}: ${statusInfo(c.to).label}</li>`)}</ul>`
        : html`<p class="muted small">No status changes in this period.</p>`}`;
  }

  override render() {
    return html`<details @toggle=${this.onToggle}>
      <summary>Uptime, last 14 days</summary>
      ${this.renderBody()}
    </details>`;
  }
}
