// The app shell: who is signed in, routing (with "not allowed" for pages above the user's role),
// the live link, header with a skip link, navigation and the connection indicator, tab titles,
// and the screen-reader live region.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { parseRoute, navigate, type Route } from '../lib/router.js';
import { currentUser, signOut, homeFor, cookieSettled, endedReason, endedText, type User } from '../lib/session.js';
import { LiveLink } from '../lib/live.js';
import { apiGet } from '../lib/api.js';
import { setAnnouncer, announce } from '../lib/announce.js';
import { statusInfo } from '../lib/format.js';
import type { SinceResponse, StoreChange } from '../lib/vm-store.js';
import './connection-indicator.js';
import './sign-in.js';
import './my-vms.js';
import './class-list.js';
import './class-page.js';
import './projector-view.js';
import './sync-monitor.js';
import './vm-table.js';
import './invite-page.js';
import './account-page.js';
import './user-admin.js';
import './console-page.js';

/** Status changes worth saying aloud: at most a few per batch, else a count. */
function describeChanges(changes: StoreChange[]): string | null {
  const said = changes.filter((c) => c.before && c.after && c.before.status !== c.after.status);
  if (said.length === 0) return null;
  if (said.length > 3) return `${said.length} VMs changed status.`;
  return said.map((c) => `${c.after!.name} is ${statusInfo(c.after!.status).label.replace('…', '').toLowerCase()}`).join('. ') + '.';
}

@customElement('labdeck-app')
export class LabdeckApp extends LitElement {
  static override styles = [base, css`
    :host { min-height: 100vh; display: flex; flex-direction: column; }
    header { display: flex; align-items: center; gap: 1rem; padding: .5rem 1rem; background: var(--surface); border-bottom: 1px solid var(--border); flex-wrap: wrap; }
    .skip { position: absolute; left: .5rem; top: -3rem; z-index: 10; background: var(--surface); padding: .4rem .7rem; border-radius: 6px; border: 2px solid var(--focus); }
    .skip:focus { top: .5rem; }
    main:focus { outline: none; }
    .brand { font-weight: 700; font-size: 1.1rem; color: var(--text); text-decoration: none; }
    nav { display: flex; gap: .25rem; flex-wrap: wrap; }
    nav a { padding: .35rem .6rem; border-radius: 6px; text-decoration: none; color: var(--text); }
    nav a[aria-current='page'] { background: var(--surface-2); font-weight: 600; }
    main { flex: 1; padding: 1rem; max-width: 1400px; width: 100%; margin: 0 auto; box-sizing: border-box; }
    .who { color: var(--muted); font-size: .9rem; }
    a.who:hover { color: var(--text); }
    .status-line { position: fixed; bottom: .75rem; left: 50%; transform: translateX(-50%); background: var(--surface); border: 1px solid var(--border); border-radius: 6px; padding: .4rem .8rem; box-shadow: 0 2px 8px rgb(0 0 0 / 15%); max-width: 90vw; }
    /* A phone gets one header row: the navigation scrolls sideways, the role and last-update text go. */
    @media (max-width: 600px) {
      header { gap: .4rem; padding: .35rem .5rem; flex-wrap: nowrap; }
      nav { flex-wrap: nowrap; overflow-x: auto; min-width: 0; flex: 0 1 auto; }
      nav a { white-space: nowrap; padding: .3rem .45rem; }
      .spacer { display: none; }
      .brand { font-size: 1rem; }
      .role { display: none; }
      .who { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 6rem; min-width: 2.5rem; flex: 0 6 auto; }
      header button { padding: .25rem .5rem; min-height: 2rem; white-space: nowrap; }
      main { padding: .6rem; }
    }
  `];

  @state() private route: Route = parseRoute(location.pathname);
  @state() private user: User | null = null;
  @state() private checked = false;
  @state() private loadError: string | null = null;
  @state() private spoken = '';
  @state() private shown = '';
  private link: LiveLink | undefined;
  private hideTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onPop = () => { this.route = parseRoute(location.pathname); this.guard(); };
  private readonly onClick = (e: MouseEvent) => this.interceptLink(e);

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('popstate', this.onPop);
    this.addEventListener('click', this.onClick);
    setAnnouncer((text) => this.say(text));
    void this.init();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('popstate', this.onPop);
    this.removeEventListener('click', this.onClick);
    setAnnouncer(null);
    this.link?.stop();
  }

  private async init(): Promise<void> {
    if (this.route.name === 'projector') {
      this.checked = true;
      return;
    }
    try {
      this.user = await currentUser();
    } catch (err) {
      this.loadError = (err as Error).message;
    }
    this.checked = true;
    if (this.user) this.startLink();
    this.guard();
  }

  /** Sends people to sign-in or to their home page as fits. */
  private guard(): void {
    if (!this.checked || this.route.name === 'projector') return;
    if (!this.user && this.route.name !== 'login') {
      const next = this.route.name === 'home' ? '' : `?next=${encodeURIComponent(location.pathname)}`;
      navigate(`/login${next}`, true);
    } else if (this.user && (this.route.name === 'login' || this.route.name === 'home')) {
      navigate(this.nextPath() ?? homeFor(this.user), true);
    }
  }

  /** The page to return to after sign-in (same-origin paths only). */
  private nextPath(): string | null {
    const next = new URLSearchParams(location.search).get('next');
    return next && next.startsWith('/') && !next.startsWith('//') && parseRoute(next).name !== 'not-found' ? next : null;
  }

  private startLink(): void {
    this.link?.stop();
    const link = new LiveLink({ loadSnapshot: () => apiGet<SinceResponse>('/api/vms') });
    link.store.subscribe((changes) => {
      const text = describeChanges(changes);
      if (text) announce(text);
    });
    link.onState(() => {
      if (link.refused && link.state === 'offline' && this.user) void this.sessionEnded();
    });
    this.link = link;
    link.start();
  }

  private async sessionEnded(): Promise<void> {
    await cookieSettled();
    const user = await currentUser().catch(() => this.user);
    if (user) return;
    this.user = null;
    this.link?.stop();
    this.link = undefined;
    navigate('/login', true);
    announce(endedText(endedReason) ?? 'Your session has ended. Please sign in again.');
  }

  private say(text: string): void {
    this.spoken = this.spoken === text ? text + '\u00a0' : text;
    this.shown = text;
    clearTimeout(this.hideTimer);
    this.hideTimer = setTimeout(() => { this.shown = ''; }, 4000);
  }

  private interceptLink(e: MouseEvent): void {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.composedPath().find((n): n is HTMLAnchorElement => n instanceof HTMLAnchorElement);
    if (!a || !a.href || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  }

  private async onSignedIn(e: CustomEvent<User>): Promise<void> {
    this.user = e.detail;
    this.startLink();
    navigate(this.nextPath() ?? homeFor(this.user), true);
  }

  private async onSignOut(): Promise<void> {
    await signOut().catch(() => undefined);
    this.link?.stop();
    this.link = undefined;
    this.user = null;
    navigate('/login', true);
  }

  private navLink(href: string, label: string, active: boolean) {
    return html`<a href=${href} aria-current=${active ? 'page' : 'false'}>${label}</a>`;
  }

  private renderHeader() {
    const u = this.user!;
    const r = this.route.name;
    return html`<header>
      <button class="skip" @click=${this.skipToMain}>Skip to content</button>
      <a class="brand" href=${homeFor(u)}>labdeck</a>
      <nav aria-label="Main">
        ${u.role === 'student' ? this.navLink('/my', 'My VMs', r === 'my') : nothing}
        ${u.role !== 'student' ? this.navLink('/classes', 'Classes', r === 'classes' || r === 'class') : nothing}
        ${u.role === 'admin' ? this.navLink('/admin/sync', 'Sync monitor', r === 'sync') : nothing}
        ${u.role === 'admin' ? this.navLink('/admin/vms', 'All VMs', r === 'vms') : nothing}
        ${u.role === 'admin' ? this.navLink('/admin/users', 'Users', r === 'users') : nothing}
      </nav>
      <span class="spacer"></span>
      <ld-connection .link=${this.link}></ld-connection>
      <a class="who" href="/account" title="Your account and password" aria-label=${`${u.displayName} (${u.role}): your account`} aria-current=${r === 'account' ? 'page' : 'false'}>${u.displayName}<span class="role"> (${u.role})</span></a>
      <button @click=${this.onSignOut}>Sign out</button>
    </header>`;
  }

  /** The skip link: focus moves to the page's content (ids do not cross the shadow root). */
  private skipToMain(e: Event): void {
    e.preventDefault();
    e.stopPropagation();
    this.renderRoot.querySelector<HTMLElement>('main')?.focus();
  }

  private notAllowed(what: string) {
    return html`<div class="card" data-not-allowed><h1>Not allowed</h1><p>${what} Your account (${this.user!.username}) is a ${this.user!.role} account.
      <a href=${homeFor(this.user!)}>Go to your page</a>, or ask an admin if you need more.</p></div>`;
  }

  /** The tab title of a page (the class page and VM details set their own). */
  private titleFor(r: Route): string | null {
    const t: Partial<Record<Route['name'], string>> = {
      my: 'My VMs', classes: 'Classes', sync: 'Sync monitor', vms: 'All VMs', users: 'Users', account: 'Your account',
      invite: 'Join a class', 'not-found': 'Not found',
    };
    return t[r.name] ?? null;
  }

  override updated(): void {
    const title = this.user ? this.titleFor(this.route) : null;
    if (title) document.title = `${title} · labdeck`;
  }

  private renderView() {
    const r = this.route;
    const u = this.user!;
    const admin = u.role === 'admin';
    if ((r.name === 'sync' || r.name === 'vms' || r.name === 'users') && !admin) return this.notAllowed('Only admins see this page.');
    if ((r.name === 'classes' || r.name === 'class') && u.role === 'student') return this.notAllowed('Class pages are for teachers. Your VMs are under My VMs.');
    switch (r.name) {
      case 'my': return html`<ld-my-vms .link=${this.link} .user=${u}></ld-my-vms>`;
      case 'classes': return html`<ld-class-list .user=${u}></ld-class-list>`;
      case 'class': return html`<ld-class-page .link=${this.link} .user=${u} .classId=${r.id}></ld-class-page>`;
      case 'sync': return html`<ld-sync-monitor .link=${this.link}></ld-sync-monitor>`;
      case 'vms': return html`<ld-vm-table .link=${this.link}></ld-vm-table>`;
      case 'invite': return html`<ld-invite .token=${r.token} .user=${u}></ld-invite>`;
      case 'account': return html`<ld-account .user=${u}></ld-account>`;
      case 'console': return html`<ld-console-page .link=${this.link} .user=${u} .cluster=${r.cluster} .vmid=${r.vmid}></ld-console-page>`;
      case 'users': return html`<ld-user-admin .me=${u}></ld-user-admin>`;
      case 'home': case 'login': return nothing;
      default: return html`<div class="card"><h1>Not found</h1><p>There is no page at this address. <a href="/">Go home</a>.</p></div>`;
    }
  }

  override render() {
    const live = html`<div class="sr-only" role="status" aria-live="polite">${this.spoken}</div>
      ${this.shown ? html`<div class="status-line" aria-hidden="true">${this.shown}</div>` : nothing}`;
    if (this.route.name === 'projector') return html`<ld-projector .token=${this.route.token}></ld-projector>${live}`;
    if (!this.checked) return html`<main><p class="muted">Loading…</p></main>`;
    if (this.loadError && !this.user) return html`<main><div class="card error" role="alert">Cannot reach labdeck: ${this.loadError}</div></main>`;
    if (!this.user) return html`<main><ld-sign-in @signed-in=${this.onSignedIn}></ld-sign-in></main>${live}`;
    return html`${this.renderHeader()}<main id="main" tabindex="-1">${this.renderView()}</main>${live}`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'labdeck-app': LabdeckApp }
}
