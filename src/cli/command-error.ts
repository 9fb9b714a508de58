/** Exit statuses the commands use besides 0 and 1 (the values of BSD's sysexits.h). */
export const EXIT_USAGE = 2;
/** EX_CONFIG: systemd's RestartPreventExitStatus=78 keeps a bad configuration from restarting in a loop. */
export const EXIT_CONFIG = 78;

/** CommandError ends a command with a message for the operator and an exit status, without a stack trace. */
export class CommandError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CommandError';
    this.exitCode = exitCode;
  }
}
