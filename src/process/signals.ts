/** What a serving process is asked by signals: stop (SIGTERM, SIGINT) or, for the primary, a rolling restart (SIGHUP). */
export interface StopSignals {
  /** onStop calls back at every SIGTERM/SIGINT, first with those that arrived before it was called. */
  onStop(listener: (signal: NodeJS.Signals) => void): void;
  /** onHangup calls back at every SIGHUP from now on (earlier ones had nothing to restart). */
  onHangup(listener: () => void): void;
}

let caught: StopSignals | undefined;

/**
 * catchStopSignals installs the serving process's signal handlers (once: later calls return the
 * same) as early as main can, before the heavy modules load, so that a stop at any moment of
 * the start is one stop and not the default action. SIGHUP never kills: a terminal hang-up reaches every process of the group,
 * and only the primary gives it a meaning. Writes to a terminal or pipe that is gone fail with
 * EIO/EPIPE; they lose the line, not the process.
 */
export function catchStopSignals(): StopSignals {
  caught ??= installStopSignals();
  return caught;
}

function installStopSignals(): StopSignals {
  const early: NodeJS.Signals[] = [];
  let onStop: ((signal: NodeJS.Signals) => void) | undefined;
  let onHangup: (() => void) | undefined;
  const stop = (signal: NodeJS.Signals) => (onStop ? onStop(signal) : early.push(signal));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', function hangup() {
    onHangup?.();
  });
  process.stdout.on('error', ignoreStreamError);
  process.stderr.on('error', ignoreStreamError);
  return {
    onStop(listener) {
      onStop = listener;
      for (const signal of early.splice(0)) listener(signal);
    },
    onHangup(listener) {
      onHangup = listener;
    },
  };
}

function ignoreStreamError(): void {
  // The terminal or the reader of the pipe is gone; nothing is left to tell.
}
