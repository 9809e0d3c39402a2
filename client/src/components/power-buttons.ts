// The power buttons of one VM (student card, class table row, All VMs detail): Start or Shut down
// in one place that keeps its focus when the VM changes state, Force stop after a confirmation,
// pending words while an action runs, disabled while offline, and the outcome in plain words.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { statusInfo, isPending } from '../lib/format.js';
import { powerAction, type PowerAction } from '../lib/actions.js';
import { plainError } from '../lib/errors.js';
import { announce } from '../lib/announce.js';
import { confirmAction } from './confirm-dialog.js';
import { countsAsUptime, finalOf, type Vm } from '../../../contract/vm.js';

const VERB: Record<PowerAction, string> = { start: 'start', stop: 'force stop', shutdown: 'shut down', reboot: 'reboot' };

@customElement('ld-power-buttons')
export class PowerButtons extends LitElement {
  static override styles = [base, css`
    :host { display: block; }
    .compact button { min-height: 1.9rem; padding: .15rem .55rem; font-size: .88rem; }
    .msg { margin-top: .35rem; font-size: .9rem; }
    .compact .msg { font-size: .82rem; margin-top: .2rem; max-width: 22rem; }
  `];

  @property({ attribute: false }) vm!: Vm;
  /** Smaller buttons for table rows. */
  @property({ type: Boolean }) compact = false;
  /** The live link is down: actions would not be seen through. */
  @property({ type: Boolean }) offline = false;
  @state() private busy: PowerAction | null = null;
  @state() private error = '';

  /** The action asked for, until the VM settles (a task failing later reverts the state). */
  private sent: { action: PowerAction; target: string } | null = null;

  override willUpdate(changed: Map<string, unknown>): void {
    if (!changed.has('vm') || !this.sent || this.busy) return;
    const status = this.vm.status;
    if (isPending(status)) return;
    if (status !== this.sent.target) {
      this.error = `The ${VERB[this.sent.action]} of ${this.vm.name} did not complete: it is ${statusInfo(status).label.toLowerCase()}.${this.vm.syncError ? ` ${this.vm.syncError}` : ''}`;
      announce(this.error);
    }
    this.sent = null;
  }

  private async act(action: PowerAction): Promise<void> {
    if (this.busy || this.offline) return;
    if (action === 'stop' && !(await confirmAction({
      title: `Force stop ${this.vm.name}?`,
      message: 'This cuts the power at once, like pulling the plug: unsaved work in the VM is lost. "Shut down" asks the system to close cleanly instead.',
      confirm: 'Force stop', danger: true,
    }))) return;
    this.busy = action;
    this.error = '';
    try {
      await powerAction(this.vm, action);
      this.sent = isPending(this.vm.status) || this.vm.status !== finalOf[action] ? { action, target: finalOf[action] } : null;
    } catch (err) {
      this.error = plainError(err, `${VERB[action]} ${this.vm.name}`);
      announce(this.error);
    } finally {
      this.busy = null;
    }
  }

  override render() {
    const vm = this.vm;
    const s = vm.status;
    // Running, or on its way down or through a reboot: the main button offers Shut down.
    const up = countsAsUptime(s);
    const pending = isPending(s) || this.busy !== null;
    // One button element for Start and Shut down, so keyboard focus stays on it when it flips.
    const main: PowerAction = up ? 'shutdown' : 'start';
    const mainLabel = this.busy === 'start' || s === 'starting' ? 'Starting…'
      : this.busy === 'shutdown' || s === 'shutting-down' ? 'Shutting down…'
      : up ? 'Shut down' : 'Start';
    const blocked = pending || this.offline || (main === 'start' && vm.template);
    const why = this.offline ? 'Offline: waiting for the connection to labdeck' : vm.template ? 'A template cannot be started' : '';
    return html`<div class=${this.compact ? 'compact' : ''}>
      <div class="row">
        <button class=${up ? '' : 'primary'} data-power=${main} data-power-main aria-disabled=${blocked ? 'true' : 'false'} title=${why}
          aria-label=${this.compact ? `${mainLabel.replace('…', '')} ${vm.name}` : nothing}
          @click=${() => { if (!blocked) void this.act(main); }}>${mainLabel}</button>
        ${up ? html`<button class="danger" data-power="stop" aria-disabled=${this.busy !== null || this.offline || s === 'stopping' ? 'true' : 'false'}
          title="Power off at once, like pulling the plug" aria-label=${this.compact ? `Force stop ${vm.name}` : nothing}
          @click=${() => { if (this.busy === null && !this.offline && s !== 'stopping') void this.act('stop'); }}>${this.busy === 'stop' || s === 'stopping' ? 'Stopping…' : 'Force stop'}</button>` : nothing}
      </div>
      ${this.error ? html`<div class="msg error" role="alert">${this.error}</div>` : nothing}
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'ld-power-buttons': PowerButtons }
}
