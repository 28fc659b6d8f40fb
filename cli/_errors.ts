// The CLI's own error: bad arguments (exit 2, with the usage line).

/** Wrong command-line arguments. */
export class UsageError extends Error {}
