// Pick a VM or a template by name: a search over the inventory inside the class's scope (name,
// vmid, tag or node) with the matches as a list of buttons; fires `vm-picked` with the choice.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { plainError } from '../lib/errors.js';
import { searchInventory, type PickedVm } from '../lib/provision.js';
import { vmKey } from '../../../contract/vm.js';

@customElement('ld-vm-picker')
export class VmPicker extends LitElement {
  static override styles = [base, css`
    ul { list-style: none; margin: .3rem 0 0; padding: 0; max-height: 14rem; overflow: auto; border: 1px solid var(--border); border-radius: 6px; }
    li button { width: 100%; border: 0; border-bottom: 1px solid var(--border); border-radius: 0; justify-content: flex-start; text-align: left; }
    li button[aria-pressed='true'] { background: var(--surface-2); font-weight: 600; }
    input { width: min(100%, 24rem); }
  `];

  @property({ type: Number }) classId = 0;
  @property() kind: 'template' | 'vm' = 'template';
  @property() label = 'Search by name, id, tag or node';
  @state() private results: PickedVm[] = [];
  @state() private chosen: PickedVm | null = null;
  @state() private error = '';
  @state() private searched = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private seq = 0;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.search('');
  }

  private async search(q: string): Promise<void> {
    const mine = ++this.seq;
    try {
      const { vms } = await searchInventory(this.classId, { q, kind: this.kind });
      if (mine !== this.seq) return;
      this.results = vms;
      this.error = '';
    } catch (err) {
      if (mine === this.seq) this.error = plainError(err, 'search');
    }
    this.searched = true;
  }

  private onInput(e: Event): void {
    const q = (e.target as HTMLInputElement).value;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.search(q), 200);
  }

  private pick(vm: PickedVm): void {
    this.chosen = vm;
    this.dispatchEvent(new CustomEvent('vm-picked', { detail: vm, bubbles: true, composed: true }));
  }

  /** The current choice (null before one is made). */
  get value(): PickedVm | null {
    return this.chosen;
  }

  override render() {
    return html`<input type="search" aria-label=${this.label} placeholder=${this.label} @input=${this.onInput} autocomplete="off" spellcheck="false">
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${this.searched && !this.results.length && !this.error ? html`<p class="muted" data-no-match>No ${this.kind === 'template' ? 'template' : 'VM'} inside this class's scope matches.</p>` : nothing}
      ${this.results.length ? html`<ul aria-label=${this.kind === 'template' ? 'Templates' : 'VMs'}>${this.results.map((vm) => html`<li>
        <button type="button" aria-pressed=${this.chosen?.cluster === vm.cluster && this.chosen.vmid === vm.vmid ? 'true' : 'false'}
          data-pick=${vmKey(vm.cluster, vm.vmid)} @click=${() => this.pick(vm)}>
          ${vm.name} <span class="muted">${vm.cluster} · ${vm.vmid} · ${vm.node}${vm.type === 'lxc' ? ' · container' : ''}${vm.tags.length ? ` · ${vm.tags.join(', ')}` : ''}</span>
        </button></li>`)}</ul>` : nothing}`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'ld-vm-picker': VmPicker }
}
