// The console page (/console/<cluster>/<vmid>): the VM's screen through labdeck's relay, noVNC
// for qemu and xterm.js for containers (both loaded only here), fitted to the window, with full
// screen, Ctrl-Alt-Del, pasting text as keystrokes and reconnecting. A teacher watching a
// student's VM starts view-only and may take control; the student sees who is watching. When the
// console closes the page says why in plain words (VM stopped, access lost, session ended).
import { LitElement, html, css, nothing, unsafeCSS } from 'lit';
import { customElement, property, state, query } from 'lit/decorators.js';
import type RFB from '@novnc/novnc';
import type { Terminal } from '@xterm/xterm';
import type { FitAddon } from '@xterm/addon-fit';
import { base } from '../lib/styles.js';
import type { LiveLink } from '../lib/live.js';
import type { User } from '../lib/session.js';
import { announce } from '../lib/announce.js';
import { vmKey } from '../../../contract/vm.js';
import {
  requestConsole, socketUrl, termData, termResize, keysymOf, closeText, whyClosed, type ConsoleLink, type ConsoleWatcher,
} from '../lib/console.js';

type ConsoleState = 'connecting' | 'connected' | 'closed' | 'error';

/** termproxy drops a terminal that stays silent too long: a ping keeps it open. */
const PING_MS = 25_000;

@customElement('ld-console-page')
export class ConsolePage extends LitElement {
  static override styles = [base, css`
    :host { display: flex; flex-direction: column; gap: .5rem; }
    .bar { display: flex; align-items: center; gap: .5rem; flex-wrap: wrap; }
    .bar h1 { font-size: 1.1rem; margin: 0; }
    .spacer { flex: 1; }
    .screen-wrap { position: relative; background: #111; border-radius: 6px; overflow: hidden; height: calc(100vh - 10rem); min-height: 240px; }
    .screen-wrap:fullscreen { height: 100vh; border-radius: 0; }
    #screen { width: 100%; height: 100%; }
    .overlay { position: absolute; inset: 0; display: flex; flex-direction: column; align-items: center; justify-content: center; gap: .75rem; color: #eee; background: rgb(0 0 0 / 70%); text-align: center; padding: 1rem; }
    .watching { background: var(--warn-bg, #fff4d6); color: var(--warn-text, #6b4e00); border-radius: 6px; padding: .35rem .6rem; }
    .paste { display: flex; flex-direction: column; gap: .5rem; }
    .paste textarea { min-height: 6rem; font-family: ui-monospace, monospace; }
    label.switch { display: inline-flex; align-items: center; gap: .35rem; }
  `];

  @property({ attribute: false }) link?: LiveLink;
  @property({ attribute: false }) user?: User;
  @property() cluster = '';
  @property({ type: Number }) vmid = 0;

  @state() private state: ConsoleState = 'connecting';
  @state() private message = '';
  @state() private info: ConsoleLink | null = null;
  @state() private watchers: ConsoleWatcher[] = [];
  @state() private control = false;
  @state() private pasting = false;
  @query('#screen') private screen!: HTMLDivElement;
  @query('.screen-wrap') private wrap!: HTMLDivElement;

  private rfb: RFB | null = null;
  private term: Terminal | null = null;
  private fit: FitAddon | null = null;
  private ws: WebSocket | null = null;
  private ping: ReturnType<typeof setInterval> | undefined;
  private resizer: ResizeObserver | null = null;
  /** Bumped on every (re)connect, so that events of an old connection are ignored. */
  private generation = 0;
  private xtermStyled = false;
  private readonly onWatchers = (m: { cluster: string; vmid: number; watchers: ConsoleWatcher[] }) => {
    if (m.cluster === this.cluster && m.vmid === this.vmid) this.watchers = m.watchers.filter((w) => w.name !== this.myName());
  };
  private watchedSocket: LiveLink['raw'] = null;
  private unsubscribeStore: (() => void) | null = null;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.updateComplete.then(() => this.connect());
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.generation++;
    this.teardown();
    this.watchedSocket?.off('console:watchers', this.onWatchers);
    this.watchedSocket = null;
    this.unsubscribeStore?.();
    this.unsubscribeStore = null;
  }

  override updated(): void {
    // The live link may arrive after the page: listen to its socket once it is there.
    const socket = this.link?.raw ?? null;
    if (socket && socket !== this.watchedSocket) {
      this.watchedSocket?.off('console:watchers', this.onWatchers);
      socket.on('console:watchers', this.onWatchers);
      this.watchedSocket = socket;
    }
    if (this.link && !this.unsubscribeStore) {
      // Proxmox often closes the console before labdeck has seen the stop: the live push says it then.
      const id = vmKey(this.cluster, this.vmid);
      this.unsubscribeStore = this.link.store.subscribe((changes) => {
        const after = changes.find((c) => c.after?.id === id)?.after;
        if (after?.status === 'stopped' && this.state === 'closed') this.message = closeText(4009)!;
      });
    }
  }

  private myName(): string {
    return this.user?.displayName || this.user?.username || '';
  }

  private teardown(): void {
    clearInterval(this.ping);
    this.resizer?.disconnect();
    this.resizer = null;
    this.rfb?.disconnect();
    this.rfb = null;
    this.ws?.close();
    this.ws = null;
    this.term?.dispose();
    this.term = null;
    this.fit = null;
    if (this.screen) this.screen.replaceChildren();
  }

  /** Asks for a fresh one-time link and opens the console (also the Reconnect button). */
  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.teardown();
    this.state = 'connecting';
    this.message = '';
    let info: ConsoleLink;
    try {
      info = await requestConsole(this.cluster, this.vmid, this.control);
    } catch (err) {
      if (gen !== this.generation) return;
      this.state = 'error';
      this.message = (err as Error).message;
      return;
    }
    if (gen !== this.generation) return;
    this.info = info;
    this.watchers = info.watchers;
    try {
      if (info.kind === 'vnc') await this.openVnc(info, gen);
      else await this.openTerminal(info, gen);
    } catch (err) {
      if (gen !== this.generation) return;
      this.state = 'error';
      this.message = `The console could not start: ${(err as Error).message}`;
    }
  }

  private async openVnc(info: ConsoleLink, gen: number): Promise<void> {
    const { default: Rfb } = await import('@novnc/novnc');
    if (gen !== this.generation) return;
    const rfb = new Rfb(this.screen, socketUrl(info.url), { credentials: { password: info.password ?? '' }, wsProtocols: ['binary'], shared: true });
    rfb.viewOnly = info.mode === 'view';
    rfb.scaleViewport = true;
    rfb.background = '#111';
    rfb.addEventListener('connect', () => {
      if (gen !== this.generation) return;
      this.state = 'connected';
      announce(`Console of ${info.vm.name} connected${info.mode === 'view' ? ', view only' : ''}.`);
      if (info.mode !== 'view') rfb.focus();
    });
    rfb.addEventListener('securityfailure', () => {
      if (gen === this.generation) this.message = 'The console refused the sign-in. Try reconnecting.';
    });
    rfb.addEventListener('disconnect', () => {
      if (gen !== this.generation) return;
      this.rfb = null;
      void this.closed(null, gen);
    });
    this.rfb = rfb;
  }

  private async openTerminal(info: ConsoleLink, gen: number): Promise<void> {
    const [{ Terminal: Term }, { FitAddon: Fit }, styles] = await Promise.all([
      import('@xterm/xterm'), import('@xterm/addon-fit'), import('@xterm/xterm/css/xterm.css?inline'),
    ]);
    if (gen !== this.generation) return;
    if (!this.xtermStyled) {
      // xterm's stylesheet has to live in this shadow root to reach the terminal.
      const style = document.createElement('style');
      style.textContent = unsafeCSS(styles.default).cssText;
      this.renderRoot.appendChild(style);
      this.xtermStyled = true;
    }
    const term = new Term({ cursorBlink: true, fontSize: 14, convertEol: false, disableStdin: info.mode === 'view' });
    const fit = new Fit();
    term.loadAddon(fit);
    term.open(this.screen);
    fit.fit();
    const ws = new WebSocket(socketUrl(info.url), ['binary']);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (gen !== this.generation) return;
      this.state = 'connected';
      ws.send(termResize(term.cols, term.rows));
      term.focus();
      announce(`Terminal of ${info.vm.name} connected.`);
    };
    ws.onmessage = (e) => term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data as ArrayBuffer));
    ws.onclose = (e) => {
      if (gen === this.generation) void this.closed(e.code, gen);
    };
    term.onData((d) => {
      if (ws.readyState === WebSocket.OPEN && info.mode !== 'view') ws.send(termData(d));
    });
    term.onResize(({ cols, rows }) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(termResize(cols, rows));
    });
    this.ping = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.send('2');
    }, PING_MS);
    this.resizer = new ResizeObserver(() => fit.fit());
    this.resizer.observe(this.screen);
    this.term = term;
    this.fit = fit;
    this.ws = ws;
  }

  private async closed(code: number | null, gen: number): Promise<void> {
    this.state = 'closed';
    const text = (code !== null ? closeText(code) : null) ?? await whyClosed(this.cluster, this.vmid);
    if (gen !== this.generation) return;
    this.message = text;
    announce(text);
  }

  private fullScreen(): void {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void this.wrap.requestFullscreen().catch(() => undefined);
  }

  private ctrlAltDel(): void {
    this.rfb?.sendCtrlAltDel();
    announce('Ctrl-Alt-Del sent.');
  }

  private typePaste(e: Event): void {
    e.preventDefault();
    const area = (e.target as HTMLFormElement).querySelector('textarea')!;
    const text = area.value;
    if (!text) return;
    if (this.rfb) for (const ch of text) this.rfb.sendKey(keysymOf(ch), null);
    else if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(termData(text.replace(/\r?\n/g, '\r')));
    area.value = '';
    this.pasting = false;
    announce(`Typed ${[...text].length} characters.`);
  }

  private setControl(on: boolean): void {
    this.control = on;
    void this.connect();
  }

  override render() {
    const info = this.info;
    const watching = info?.mode === 'view' || this.control;
    const canType = this.state === 'connected' && info?.mode === 'control';
    return html`
      <div class="bar">
        <h1>${info ? info.vm.name : `VM ${this.vmid}`} <span class="muted small">console</span></h1>
        <span class="badge" data-console-state=${this.state}>${this.stateLabel()}</span>
        ${info?.mode === 'view' ? html`<span class="badge tone-warn">view only</span>` : nothing}
        ${this.watchers.length ? html`<span class="watching" role="status" data-watchers>${this.watchers.map((w) => `${w.name} ${w.mode === 'view' ? 'is watching' : 'has control'}`).join(', ')}</span>` : nothing}
        <span class="spacer"></span>
        ${watching ? html`<label class="switch"><input type="checkbox" .checked=${this.control} @change=${(e: Event) => this.setControl((e.target as HTMLInputElement).checked)}> Take control</label>` : nothing}
        ${info?.kind === 'vnc' ? html`<button @click=${this.ctrlAltDel} ?disabled=${!canType}>Ctrl-Alt-Del</button>` : nothing}
        <button @click=${() => { this.pasting = !this.pasting; }} ?disabled=${!canType} aria-expanded=${this.pasting}>Paste text</button>
        <button @click=${this.fullScreen}>Full screen</button>
        <button @click=${() => void this.connect()} ?disabled=${this.state === 'connecting'}>Reconnect</button>
      </div>
      ${this.pasting ? html`<form class="paste card" @submit=${this.typePaste}>
        <label>Text to type into the ${info?.kind === 'terminal' ? 'terminal' : 'VM'} <textarea name="text" autofocus></textarea></label>
        <div class="row"><button class="primary" type="submit">Type it</button><button type="button" @click=${() => { this.pasting = false; }}>Cancel</button></div>
      </form>` : nothing}
      <div class="screen-wrap">
        <div id="screen"></div>
        ${this.state !== 'connected' ? html`<div class="overlay" role=${this.state === 'connecting' ? 'status' : 'alert'}>
          <p>${this.state === 'connecting' ? 'Connecting to the console…' : this.message || 'The console is closed.'}</p>
          ${this.state !== 'connecting' ? html`<button class="primary" @click=${() => void this.connect()}>Reconnect</button>` : nothing}
        </div>` : nothing}
      </div>`;
  }

  private stateLabel(): string {
    switch (this.state) {
      case 'connecting': return 'connecting…';
      case 'connected': return 'connected';
      case 'closed': return 'closed';
      default: return 'not available';
    }
  }
}

declare global {
  interface HTMLElementTagNameMap { 'ld-console-page': ConsolePage }
}
