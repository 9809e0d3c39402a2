// A mistake in the command line or its input, reported as one plain line (exit code 2).
export class UsageError extends Error {}
