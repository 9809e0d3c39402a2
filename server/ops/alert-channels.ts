// Where alerts go: a generic webhook (JSON, optional HMAC-SHA256 signature) and email over SMTP.
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AlertsConfig, EmailChannelConfig, WebhookChannelConfig } from './config-schema.js';

/** One alert as every channel receives it. */
export interface AlertMessage {
  kind: 'down' | 'recovered';
  cluster: string;
  clusterName: string;
  at: number;
  reason: string;
}

export interface AlertChannel {
  readonly name: 'webhook' | 'email';
  send(msg: AlertMessage): Promise<void>;
  close?(): void;
}

export const SIGNATURE_HEADER = 'x-labdeck-signature';

/** `sha256=<hex>` HMAC of the raw body, as the webhook receiver recomputes it. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The one-line subject shared by email and the webhook's `text`. */
export function alertSubject(msg: AlertMessage): string {
  return msg.kind === 'down'
    ? `[labdeck] Cluster ${msg.clusterName} is DOWN`
    : `[labdeck] Cluster ${msg.clusterName} recovered`;
}

function alertText(msg: AlertMessage): string {
  return [
    alertSubject(msg),
    '',
    `Cluster: ${msg.clusterName} (${msg.cluster})`,
    `When: ${new Date(msg.at).toISOString()}`,
    `What: ${msg.reason}`,
    '',
    msg.kind === 'down'
      ? 'The dashboard keeps showing the last known state, marked stale, until sync works again.'
      : 'The dashboard shows live state again.',
  ].join('\n');
}

/** POSTs `{event, cluster, clusterName, at, reason, text}` as JSON; any non-2xx answer is a failure. */
export function webhookChannel(cfg: WebhookChannelConfig): AlertChannel {
  return {
    name: 'webhook',
    async send(msg) {
      const body = JSON.stringify({
        event: `cluster.${msg.kind}`,
        cluster: msg.cluster,
        clusterName: msg.clusterName,
        at: msg.at,
        reason: msg.reason,
        text: alertSubject(msg),
      });
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'labdeck-alerts' };
      if (cfg.secret) headers[SIGNATURE_HEADER] = signBody(cfg.secret, body);
      const res = await fetch(cfg.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(cfg.timeoutMs) });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
    },
  };
}

/** Sends a plain-text mail through the configured SMTP relay (TLS and auth from config). */
export function emailChannel(cfg: EmailChannelConfig): AlertChannel {
  // Loaded only when mail is configured: nodemailer is ~3 MB of heap a server without it never needs.
  const nodemailer = createRequire(import.meta.url)('nodemailer') as typeof import('nodemailer');
  const transport = nodemailer.createTransport({
    host: cfg.host,
    port: cfg.port,
    secure: cfg.secure,
    requireTLS: cfg.requireTls,
    auth: cfg.auth ? { user: cfg.auth.user, pass: cfg.auth.pass } : undefined,
    tls: { rejectUnauthorized: cfg.verifyTls },
    connectionTimeout: cfg.timeoutMs,
    greetingTimeout: cfg.timeoutMs,
    socketTimeout: cfg.timeoutMs,
  });
  return {
    name: 'email',
    async send(msg) {
      await transport.sendMail({ from: cfg.from, to: cfg.to, subject: alertSubject(msg), text: alertText(msg) });
    },
    close: () => transport.close(),
  };
}

/** The channels the config turns on (none when alerts are off). */
export function channelsFromConfig(cfg: AlertsConfig): AlertChannel[] {
  if (!cfg.enabled) return [];
  const out: AlertChannel[] = [];
  if (cfg.webhook) out.push(webhookChannel(cfg.webhook));
  if (cfg.email) out.push(emailChannel(cfg.email));
  return out;
}
