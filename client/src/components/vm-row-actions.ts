// The actions at the end of a VM's row (class table, All VMs detail). Each action is one element
// on its own line below, so adding one (console, revert) is a one-line change here.
import { LitElement, html, css } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import type { Vm } from '../../../contract/vm.js';
import './power-buttons.js';
import './revert-button.js';

@customElement('ld-vm-row-actions')
export class VmRowActions extends LitElement {
  static override styles = [base, css`
    :host { display: block; }
    .actions { display: flex; gap: .35rem; align-items: start; flex-wrap: wrap; }
  `];

  @property({ attribute: false }) vm!: Vm;
  /** The class the row belongs to, when it is shown on a class page. */
  @property({ type: Number }) classId: number | null = null;
  @property({ type: Boolean }) offline = false;

  override render() {
    const vm = this.vm;
    return html`<div class="actions" data-row-actions>
      <ld-power-buttons compact .vm=${vm} ?offline=${this.offline}></ld-power-buttons>
      <ld-revert-button compact .vm=${vm} ?offline=${this.offline}></ld-revert-button>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'ld-vm-row-actions': VmRowActions }
}
