// Student — my VMs: a card per VM the student may see, live from the store.
import { LitElement, html, css } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { repeat } from 'lit/directives/repeat.js';
import { base } from '../lib/styles.js';
import { LiveController } from '../lib/controllers.js';
import { queryVms } from '../lib/vm-query.js';
import type { LiveLink } from '../lib/live.js';
import type { User } from '../lib/session.js';
import './vm-card.js';

@customElement('ld-my-vms')
export class MyVms extends LitElement {
  static override styles = [base, css`
    .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 20rem), 1fr)); gap: 1rem; }
  `];

  @property({ attribute: false }) link?: LiveLink;
  @property({ attribute: false }) user?: User;
  private readonly live = new LiveController(this, () => this.link);

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('link')) this.live.bind();
  }

  override render() {
    const store = this.link?.store;
    const vms = store ? queryVms(store.vms.values(), { sort: 'name' }) : [];
    return html`<h1>My VMs</h1>
      ${!store?.loaded ? html`<p class="muted">Loading…</p>`
        : vms.length === 0 ? html`<div class="card"><p>No VM is assigned to you yet. Ask your teacher.</p></div>`
        : html`<div class="grid">${repeat(vms, (vm) => vm.id, (vm) => html`<ld-vm-card .vm=${vm} .username=${this.user?.username ?? 'student'} ?offline=${this.link?.state !== 'live'}></ld-vm-card>`)}</div>`}`;
  }
}
