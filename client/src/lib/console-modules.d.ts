// Types for what the console page takes from noVNC (which ships none) and for Vite's `?inline` CSS.

declare module '@novnc/novnc' {
  export interface RfbOptions {
    shared?: boolean;
    credentials?: { password?: string; username?: string; target?: string };
    wsProtocols?: string[];
  }
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket, options?: RfbOptions);
    viewOnly: boolean;
    scaleViewport: boolean;
    clipViewport: boolean;
    resizeSession: boolean;
    focusOnClick: boolean;
    background: string;
    disconnect(): void;
    sendCredentials(credentials: { password: string }): void;
    sendKey(keysym: number, code: string | null, down?: boolean): void;
    sendCtrlAltDel(): void;
    focus(): void;
  }
}

declare module '*.css?inline' {
  const css: string;
  export default css;
}
