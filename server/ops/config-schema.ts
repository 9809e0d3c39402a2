// Config sections of the operations side (alerts, metrics, retention), merged into the config file schema.
import * as v from 'valibot';

const Minutes = v.pipe(v.number(), v.minValue(0.01), v.maxValue(7 * 24 * 60));

export const WebhookChannelSchema = v.strictObject({
  url: v.pipe(v.string(), v.url('must be a URL like https://hooks.example.edu/labdeck')),
  /** When set, the body is signed: `X-Labdeck-Signature: sha256=<hex HMAC of the raw body>`. */
  secret: v.optional(v.pipe(v.string(), v.minLength(8, 'must be at least 8 characters'))),
  timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(60_000)), 5_000),
});

export const EmailChannelSchema = v.strictObject({
  host: v.pipe(v.string(), v.minLength(1)),
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)), 587),
  /** true = TLS from the first byte (port 465); false = plain, upgraded by STARTTLS when offered. */
  secure: v.optional(v.boolean(), false),
  /** Refuse to send unless STARTTLS succeeds. */
  requireTls: v.optional(v.boolean(), false),
  /** Verify the server certificate (turn off only for a self-signed relay you trust). */
  verifyTls: v.optional(v.boolean(), true),
  auth: v.optional(v.strictObject({ user: v.pipe(v.string(), v.minLength(1)), pass: v.string() })),
  from: v.pipe(v.string(), v.minLength(3)),
  to: v.pipe(v.array(v.pipe(v.string(), v.email('must be an email address'))), v.minLength(1, 'needs at least one recipient')),
  timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(120_000)), 10_000),
});

export const AlertsConfigSchema = v.strictObject({
  enabled: v.optional(v.boolean(), true),
  /** Alert after this many consecutive failed passes of one cluster... */
  failures: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000)), 3),
  /** ...or when it has had no successful pass for this long. */
  staleMinutes: v.optional(Minutes, 10),
  webhook: v.optional(WebhookChannelSchema),
  email: v.optional(EmailChannelSchema),
});

export const MetricsConfigSchema = v.strictObject({
  /** When set, /metrics asks for `Authorization: Bearer <token>`. */
  token: v.optional(v.pipe(v.string(), v.minLength(8, 'must be at least 8 characters'))),
});

export const RetentionConfigSchema = v.strictObject({
  /** vm_events, sync_runs and alert_events older than this are deleted. */
  days: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(3650)), 90),
  /** The audit log is kept longer (who did what is asked about long after): entries older than this are deleted. */
  auditDays: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(3650)), 365),
  intervalHours: v.optional(v.pipe(v.number(), v.minValue(0.001), v.maxValue(24 * 7)), 6),
});

export type AlertsConfig = v.InferOutput<typeof AlertsConfigSchema>;
export type WebhookChannelConfig = v.InferOutput<typeof WebhookChannelSchema>;
export type EmailChannelConfig = v.InferOutput<typeof EmailChannelSchema>;
export type MetricsConfig = v.InferOutput<typeof MetricsConfigSchema>;
export type RetentionConfig = v.InferOutput<typeof RetentionConfigSchema>;
