// Lit reactive controllers that re-render a component when the store or the link changes,
// coalesced to one update per animation frame so a burst of pushes costs one render.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { Vm } from '../../../contract/vm.js';
import type { ProjectorVm } from '../../../contract/classes.js';
import type { LiveLink } from './live.js';

/** Re-renders the host on store changes and link state changes. */
export class LiveController implements ReactiveController {
  private offStore?: () => void;
  private offState?: () => void;
  private frame = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: ReactiveControllerHost, private readonly getLink: () => LiveLink<Vm> | LiveLink<ProjectorVm> | undefined) {
    host.addController(this);
  }

  hostConnected(): void {
    this.bind();
  }

  hostDisconnected(): void {
    this.offStore?.();
    this.offState?.();
    this.offStore = this.offState = undefined;
    if (this.frame) cancelAnimationFrame(this.frame);
    clearTimeout(this.timer);
    this.frame = 0;
  }

  /** Call when the link object itself changes. */
  bind(): void {
    this.hostDisconnected();
    const link = this.getLink();
    if (!link) return;
    this.offStore = link.store.subscribe(() => this.schedule());
    this.offState = link.onState(() => this.schedule());
  }

  private schedule(): void {
    if (this.frame) return;
    // A timer backs up the frame: hidden tabs get no frames but should still be current on return.
    const run = () => {
      cancelAnimationFrame(this.frame);
      clearTimeout(this.timer);
      this.frame = 0;
      this.host.requestUpdate();
    };
    this.frame = requestAnimationFrame(run);
    this.timer = setTimeout(run, 200);
  }
}

/** Re-renders the host every `ms` (clocks and "5 s ago" labels). */
export class TickController implements ReactiveController {
  private timer: ReturnType<typeof setInterval> | undefined;
  now = Date.now();

  constructor(private readonly host: ReactiveControllerHost, private readonly ms = 1000) {
    host.addController(this);
  }

  hostConnected(): void {
    this.timer = setInterval(() => {
      this.now = Date.now();
      this.host.requestUpdate();
    }, this.ms);
  }

  hostDisconnected(): void {
    clearInterval(this.timer);
  }
}
