// "Revert" on a VM labdeck made (tagged labdeck): after a confirmation, rolls it back to its
// baseline snapshot and says what happened; where the storage cannot, it says to ask for a re-clone.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { ApiError } from '../lib/api.js';
import { plainError } from '../lib/errors.js';
import { announce } from '../lib/announce.js';
import { revertVm } from '../lib/provision.js';
import { confirmAction } from './confirm-dialog.js';
import type { Vm } from '../../../contract/vm.js';

@customElement('ld-revert-button')
export class RevertButton extends LitElement {
  static override styles = [base, css`:host { display: inline-block; } p { margin: .3rem 0 0; font-size: .9rem; max-width: 28rem; }`];

  @property({ attribute: false }) vm!: Vm;
  @property({ type: Boolean }) compact = false;
  @property({ type: Boolean }) offline = false;
  @state() private busy = false;
  @state() private message = '';
  @state() private failed = false;

  private async revert(): Promise<void> {
    const vm = this.vm;
    const ok = await confirmAction({
      title: `Revert ${vm.name}?`,
      message: `${vm.name} goes back to how labdeck made it: everything done on it since is lost.${vm.status === 'running' ? ' It is stopped and started again.' : ''}`,
      items: [vm.name], confirm: `Revert ${vm.name}`, danger: true,
    });
    if (!ok) return;
    this.busy = true;
    this.message = 'Reverting…';
    this.failed = false;
    try {
      const r = await revertVm(vm.cluster, vm.vmid);
      this.message = r.started ? `${vm.name} was reverted and is starting.` : `${vm.name} was reverted.`;
    } catch (err) {
      this.failed = true;
      this.message = err instanceof ApiError && err.code === 'not_most_recent'
        ? `${vm.name} cannot be reverted: its storage rolls back only to its newest snapshot. Ask your teacher to re-clone it (remove it and provision a new one).`
        : plainError(err, `revert ${vm.name}`);
    } finally {
      this.busy = false;
      announce(this.message);
    }
  }

  override render() {
    if (!this.vm?.tags.includes('labdeck') || this.vm.template) return nothing;
    return html`<button class=${this.compact ? 'small' : ''} data-revert ?disabled=${this.busy || this.offline} @click=${() => void this.revert()}
        aria-label=${`Revert ${this.vm.name} to its baseline`}>${this.busy ? 'Reverting…' : 'Revert'}</button>
      ${this.message && !this.busy ? html`<p class=${this.failed ? 'error' : 'muted'} role="status" data-revert-result>${this.message}</p>` : nothing}`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'ld-revert-button': RevertButton }
}
