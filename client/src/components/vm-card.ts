// One VM as a student sees it: status in colour and words, IP or why not, how to connect,
// power buttons (disabled while offline), and cpu/memory bars.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { statusInfo, ipText, percent, bytes, sshCommand, ago } from '../lib/format.js';
import { announce } from '../lib/announce.js';
import { qs } from '../lib/api.js';
import type { Vm } from '../../../contract/vm.js';
import './vm-history.js';
import './power-buttons.js';
import './revert-button.js';

@customElement('ld-vm-card')
export class VmCard extends LitElement {
  static override styles = [base, css`
    .card { display: grid; gap: .6rem; height: 100%; align-content: start; }
    .top { display: flex; justify-content: space-between; gap: .5rem; align-items: start; }
    .name { font-size: 1.1rem; font-weight: 700; overflow-wrap: anywhere; }
    .meta { font-size: .85rem; }
    dl { display: grid; grid-template-columns: auto 1fr; gap: .25rem .75rem; margin: 0; font-size: .92rem; }
    dt { color: var(--muted); }
    dd { margin: 0; overflow-wrap: anywhere; }
    .bars { display: grid; grid-template-columns: 3.5rem 1fr 3rem; gap: .3rem .5rem; align-items: center; font-size: .85rem; }
    .ssh { display: flex; gap: .4rem; align-items: center; }
    .ssh code { background: var(--surface-2); padding: .2rem .4rem; border-radius: 4px; font-size: .85rem; overflow-wrap: anywhere; }
    .stale { font-size: .85rem; }
    .connect { display: grid; gap: .4rem; }
    .small { font-size: .85rem; }
  `];

  @property({ attribute: false }) vm!: Vm;
  /** The signed-in user's name, for the SSH command. */
  @property() username = 'student';
  /** The live link is down: power buttons wait for it. */
  @property({ type: Boolean }) offline = false;
  @state() private error = '';
  @state() private copied = false;

  private async copySsh(cmd: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(cmd);
      this.copied = true;
      announce('SSH command copied.');
      setTimeout(() => { this.copied = false; }, 2000);
    } catch {
      this.error = 'Copy failed: select the command and copy it by hand.';
    }
  }

  override render() {
    const vm = this.vm;
    const s = statusInfo(vm.status);
    const running = vm.status === 'running';
    const ssh = sshCommand(vm, this.username);
    const showRdp = vm.type === 'qemu' && (vm.category === 'windows' || vm.rdpAvailable === true);
    const showSsh = vm.category !== 'windows' || vm.sshAvailable === true;
    return html`<article class="card" aria-label=${`${vm.name}, ${s.label}`} data-vm=${vm.id} data-status=${vm.status}>
      <div class="top">
        <div>
          <div class="name">${vm.name}</div>
          <div class="meta muted">#${vm.vmid} · ${vm.type === 'lxc' ? 'container' : 'VM'} · ${vm.node}${vm.cluster ? ` · ${vm.cluster}` : ''}</div>
        </div>
        <span class="badge tone-${s.tone}" data-status-badge>${s.label}</span>
      </div>
      ${vm.stale ? html`<div class="stale badge tone-warn" title="Proxmox has not answered recently">Stale data · last seen ${ago(vm.lastSeen)}</div>` : nothing}
      <dl>
        <dt>IP</dt><dd class=${vm.ip ? 'mono' : 'muted'} data-ip>${ipText(vm)}</dd>
        <dt>Size</dt><dd>${vm.cores ?? '—'} ${vm.cores === 1 ? 'core' : 'cores'} · ${bytes(vm.maxMemory)}</dd>
      </dl>
      ${running ? html`<div class="bars" aria-label="Resource use">
        <span>CPU</span><div class="bar" role="meter" aria-label="CPU" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round((vm.cpu ?? 0) * 100)}><span style="width:${Math.round((vm.cpu ?? 0) * 100)}%"></span></div><span>${percent(vm.cpu)}</span>
        <span>Memory</span><div class="bar" role="meter" aria-label="Memory" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round((vm.memory ?? 0) * 100)}><span style="width:${Math.round((vm.memory ?? 0) * 100)}%"></span></div><span>${percent(vm.memory)}</span>
      </div>` : nothing}
      ${running && vm.ip ? html`<div class="connect">
        ${showRdp ? html`<div class="row"><a class="button" href=${`/api/vm/${vm.vmid}/rdp${qs({ cluster: vm.cluster })}`} download>Download .rdp</a>
          ${vm.rdpAvailable === false ? html`<span class="muted small">Remote Desktop is not answering yet</span>` : nothing}</div>` : nothing}
        ${ssh && showSsh ? html`<div class="ssh"><code>${ssh}</code><button @click=${() => this.copySsh(ssh)} aria-label="Copy SSH command">${this.copied ? 'Copied' : 'Copy'}</button></div>
          ${vm.sshAvailable === false ? html`<span class="muted small">SSH is not answering yet</span>` : nothing}` : nothing}
      </div>` : nothing}
      ${running ? html`<div class="row"><a class="button" href=${`/console/${vm.cluster}/${vm.vmid}`} aria-label=${`Console of ${vm.name}`}>Console</a></div>` : nothing}
      <ld-power-buttons .vm=${vm} ?offline=${this.offline}></ld-power-buttons>
      <ld-revert-button .vm=${vm} ?offline=${this.offline}></ld-revert-button>
      ${this.offline ? html`<div class="muted small">Power buttons wait until labdeck is connected again.</div>` : nothing}
      ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
      ${vm.syncError ? html`<div class="error">${vm.syncError}</div>` : nothing}
      <ld-vm-history .vmid=${vm.vmid} .cluster=${vm.cluster}></ld-vm-history>
    </article>`;
  }
}
