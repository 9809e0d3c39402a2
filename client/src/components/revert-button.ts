// "Revert" on a VM labdeck made (tagged labdeck): after a confirmation, rolls it back to its
// baseline snapshot and says what happened; where the storage cannot (ZFS rolls back only to the
// newest snapshot), it offers "Re-create from template", again after a confirmation.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { ApiError } from '../lib/api.js';
import { plainError } from '../lib/errors.js';
import { announce } from '../lib/announce.js';
import { recloneVm, revertVm } from '../lib/provision.js';
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
  /** The storage refused the rollback: re-creating is what is left. */
  @state() private offerReclone = false;

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
    this.offerReclone = false;
    try {
      const r = await revertVm(vm.cluster, vm.vmid);
      this.message = r.started ? `${vm.name} was reverted and is starting.` : `${vm.name} was reverted.`;
    } catch (err) {
      this.failed = true;
      this.offerReclone = err instanceof ApiError && err.code === 'not_most_recent';
      this.message = this.offerReclone
        ? `${vm.name} cannot be reverted: its storage goes back only to its newest snapshot, and a snapshot was taken after the baseline. It can be re-created from its template instead.`
        : plainError(err, `revert ${vm.name}`);
    } finally {
      this.busy = false;
      announce(this.message);
    }
  }

  private async reclone(): Promise<void> {
    const vm = this.vm;
    const ok = await confirmAction({
      title: `Re-create ${vm.name} from its template?`,
      message: `${vm.name} is removed and made again from the template it came from, with the same name and the same student. Everything on it is lost, its snapshots too. It gets a new VM number and is ready in a few minutes.`,
      items: [vm.name], confirm: `Re-create ${vm.name}`, danger: true,
    });
    if (!ok) return;
    this.busy = true;
    this.message = `Re-creating ${vm.name}…`;
    this.failed = false;
    try {
      await recloneVm(vm.cluster, vm.vmid);
      this.offerReclone = false;
      this.message = `${vm.name} is being re-created from its template: it disappears, then comes back when it is ready.`;
    } catch (err) {
      this.failed = true;
      this.message = plainError(err, `re-create ${vm.name}`);
    } finally {
      this.busy = false;
      announce(this.message);
    }
  }

  override render() {
    if (!this.vm?.tags.includes('labdeck') || this.vm.template) return nothing;
    return html`<button class=${this.compact ? 'small' : ''} data-revert ?disabled=${this.busy || this.offline} @click=${() => void this.revert()}
        aria-label=${`Revert ${this.vm.name} to its baseline`}>${this.busy ? 'Reverting…' : 'Revert'}</button>
      ${this.message && !this.busy ? html`<p class=${this.failed ? 'error' : 'muted'} role="status" data-revert-result>${this.message}</p>` : nothing}
      ${this.offerReclone && !this.busy ? html`<button class="small" data-reclone ?disabled=${this.offline} @click=${() => void this.reclone()}
        aria-label=${`Re-create ${this.vm.name} from its template`}>Re-create from template</button>` : nothing}`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'ld-revert-button': RevertButton }
}
