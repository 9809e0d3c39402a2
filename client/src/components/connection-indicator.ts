// The connection indicator: live / reconnecting / offline, with the time of the last update.
import { LitElement, html, css } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { LiveController, TickController } from '../lib/controllers.js';
import { ago, clock } from '../lib/format.js';
import type { LiveLink, LinkState } from '../lib/live.js';

const WORDS: Record<LinkState, { label: string; tone: string }> = {
  connecting: { label: 'Connecting…', tone: 'busy' },
  live: { label: 'Live', tone: 'ok' },
  reconnecting: { label: 'Reconnecting…', tone: 'warn' },
  offline: { label: 'Offline', tone: 'bad' },
};

@customElement('ld-connection')
export class ConnectionIndicator extends LitElement {
  static override styles = [base, css`
    :host { display: inline-block; font-size: .9rem; }
    .when { color: var(--muted); margin-left: .4rem; }
    @media (max-width: 600px) { .when { display: none; } }
  `];

  @property({ attribute: false }) link?: LiveLink;
  private readonly live = new LiveController(this, () => this.link);
  private readonly tick = new TickController(this, 5000);

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('link')) this.live.bind();
  }

  override render() {
    const link = this.link;
    const s: LinkState = link?.state ?? 'offline';
    const w = WORDS[s];
    const last = link?.store.lastUpdateAt ?? null;
    return html`<span role="status" aria-live="polite" data-state=${s}>
      <span class="badge tone-${w.tone}">${w.label}</span>${s !== 'live' && last
        ? html`<span class="when">last update ${clock(last)} (${ago(last, this.tick.now)})</span>`
        : ''}
    </span>`;
  }
}
