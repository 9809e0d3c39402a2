// The one structured logger (pino). Secrets never go in: redact covers the usual places they hide.
import { pino } from 'pino';

export const log = pino({
  level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  redact: {
    paths: [
      'password', '*.password', 'tokenSecret', '*.tokenSecret', 'secret', '*.secret',
      'authorization', '*.authorization', 'cookie', '*.cookie', 'req.headers.authorization',
      'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'ticket', '*.ticket',
    ],
    censor: '[redacted]',
  },
});

export type Logger = typeof log;
