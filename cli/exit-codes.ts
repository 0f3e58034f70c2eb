import { ConfigError } from '../src/config/load-config.js';
import { coerceError, SnapkeepError } from '../src/errors.js';

/** The CLI's exit codes: DESIGN's contract with scripts. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, as shells report a command stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

/** InterruptedError is an in-process operation stopped by SIGINT or SIGTERM after cleaning up. */
export class InterruptedError extends Error {
  constructor(signal: string) {
    super(`interrupted by ${signal}; temporary files removed, nothing was stored or restored`);
    this.name = 'InterruptedError';
  }
}

/** UsageError is a command used wrongly: exit 2, like a settings error. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** reportFailure prints why a command failed, one line per problem on stderr, and returns its exit code. */
export function reportFailure(thrown: unknown): number {
  if (thrown instanceof ConfigError) {
    for (const problem of thrown.problems) process.stderr.write(`snapkeep: ${problem}\n`);
    return EXIT_USAGE;
  }
  if (thrown instanceof InterruptedError) {
    process.stderr.write(`snapkeep: ${thrown.message}\n`);
    return EXIT_INTERRUPTED;
  }
  // Naming a source that is not declared (or none, among several) is a usage error too.
  if (thrown instanceof UsageError || (thrown instanceof SnapkeepError && (thrown.code === 'source_not_found' || thrown.code === 'source_required'))) {
    process.stderr.write(`snapkeep: ${thrown.message}\n`);
    return EXIT_USAGE;
  }
  process.stderr.write(`snapkeep: ${coerceError(thrown).message}\n`);
  return EXIT_FAILED;
}
