import { ExitCode } from './exit-codes.js';

/**
 * SIGINT/SIGTERM handling for long commands. The first signal aborts `signal` (no new starts; the
 * batch runner lets in-flight calls finish within the grace period and saves state); a second signal
 * exits at once with {@link ExitCode.interrupted}. Nothing is lost either way: every transition is
 * already durable in the state file, and items still in flight run again on resume.
 */
export class Shutdown {
  private readonly controller = new AbortController();
  private count = 0;
  private readonly handler = (sig: NodeJS.Signals): void => this.onSignal(sig);

  constructor(
    private readonly notify: (message: string) => void,
    private readonly graceMs: number,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  /** Fires on the first signal. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True once a signal arrived. */
  get requested(): boolean {
    return this.count > 0;
  }

  /** Removes the handlers (call when the command ends). */
  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }

  private onSignal(sig: NodeJS.Signals): void {
    this.count++;
    if (this.count === 1) {
      this.notify(
        `\n${sig}: no new requests; waiting up to ${Math.round(this.graceMs / 1000)} s for those in flight, then saving state. ` +
          'Press Ctrl-C again to exit at once (in-flight items run again on resume).',
      );
      this.controller.abort(new Error(`interrupted by ${sig}`));
      return;
    }
    this.notify(`${sig} again: exiting now; run the same command to resume.`);
    this.exit(ExitCode.interrupted);
  }
}
