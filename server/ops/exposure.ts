// What a configuration leaves open to anyone who reaches labdeck: links built from the Host header
// and any host answered (no publicUrl), and /metrics without a token. The server logs the warnings
// at start; `check-config` prints the whole report.
import type { AppConfig } from '../config.js';

export interface ExposureLine {
  step: 'publicUrl' | 'metrics';
  level: 'ok' | 'warn';
  message: string;
  fix?: string;
}

/** The report for a config (pure); demo mode warns about nothing (it is meant for one machine). */
export function exposureReport(config: Pick<AppConfig, 'publicUrl' | 'allowedHosts' | 'metrics' | 'demo'>): ExposureLine[] {
  const lines: ExposureLine[] = [];
  if (config.publicUrl) {
    const hosts = [new URL(config.publicUrl).host, ...config.allowedHosts, 'loopback'].join(', ');
    lines.push({ step: 'publicUrl', level: 'ok', message: `links point at ${config.publicUrl}; only requests for ${hosts} are answered` });
  } else if (!config.demo) {
    lines.push({ step: 'publicUrl', level: 'warn', message: 'publicUrl is not set: invite and projector links are built from the Host header of each request, and any host name is answered',
      fix: 'add "publicUrl": "https://labdeck.example.edu" (the address people use) to the config file' });
  }
  if (config.metrics.token) {
    lines.push({ step: 'metrics', level: 'ok', message: '/metrics asks for the bearer token' });
  } else if (!config.demo) {
    lines.push({ step: 'metrics', level: 'warn', message: '/metrics has no token: anyone who reaches labdeck can read its cluster names, guest counts and request rates',
      fix: 'add "metrics": {"token": "${METRICS_TOKEN}"} to the config file and give Prometheus the token (bearer_token)' });
  }
  return lines;
}
