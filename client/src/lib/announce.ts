// Screen-reader announcements: one polite live region in the shell, fed from anywhere.

type Sink = (text: string) => void;
let sink: Sink | null = null;

/** The shell registers its live region here. */
export function setAnnouncer(fn: Sink | null): void {
  sink = fn;
}

/** Says something to screen-reader users (and shows it briefly in the status line). */
export function announce(text: string): void {
  sink?.(text);
}
