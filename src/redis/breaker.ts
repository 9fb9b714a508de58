/** Options of a circuit breaker in front of a dependency that can hang instead of failing. */
export interface BreakerOptions {
  /** Consecutive failures (timeouts, lost connection) that open it. */
  readonly failuresToOpen: number;
  /** How often the probe runs, open or closed; a failed probe while closed is repeated at once. */
  readonly probeEveryMs: number;
  /** One cheap round trip to the dependency (a PING), bounded by its own timeout. */
  readonly probe: () => Promise<unknown>;
  /** Whether an error still proves the dependency answered (a Redis reply error, say). */
  readonly answered?: (error: unknown) => boolean;
  readonly onChange?: (open: boolean, failures: number) => void;
}

/** A Breaker stops a process from waiting on a dependency that does not answer, and notices when it does again. */
export interface Breaker {
  /** True while requests must not wait on the dependency. */
  readonly isOpen: boolean;
  /** track counts a call's outcome; if the breaker opens while the call waits, the call fails at once. */
  track<T>(call: Promise<T>): Promise<T>;
  /** probeNow probes without waiting for the next turn (the connection just came back, say). */
  probeNow(): void;
  stop(): void;
}

export class CircuitOpenError extends Error {
  constructor() {
    super('circuit open: the dependency is not answering');
    this.name = 'CircuitOpenError';
  }
}

/**
 * createBreaker: after `failuresToOpen` consecutive failed calls or probes it opens, failing the
 * calls still waiting; while open nobody calls, and a background probe every `probeEveryMs`
 * closes it on the first answer. Probes run while closed too, so a dependency that hangs with
 * no traffic is still found out, within a few probe timeouts.
 */
export function createBreaker(options: BreakerOptions): Breaker {
  const { failuresToOpen, probeEveryMs, probe, answered = () => false, onChange = () => {} } = options;
  let open = false;
  let failures = 0;
  let stopped = false;
  let probing = false;
  let timer: NodeJS.Timeout | undefined;
  const waiting = new Set<(error: Error) => void>();

  function succeeded(): void {
    failures = 0;
    if (open) {
      open = false;
      onChange(false, 0);
    }
  }

  function failed(): void {
    failures++;
    if (open || failures < failuresToOpen) return;
    open = true;
    onChange(true, failures);
    const error = new CircuitOpenError();
    for (const release of [...waiting]) release(error);
  }

  function schedule(delayMs: number): void {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(runProbe, delayMs);
    timer.unref();
  }

  function runProbe(): void {
    if (probing || stopped) return;
    probing = true;
    probe().then(
      () => {
        probing = false;
        succeeded();
        schedule(probeEveryMs);
      },
      (error: unknown) => {
        probing = false;
        if (answered(error)) succeeded();
        else failed();
        // Closed but failing: look again at once, so a hang is found out in a few timeouts.
        schedule(open ? probeEveryMs : 0);
      },
    );
  }

  schedule(probeEveryMs);
  return {
    get isOpen() {
      return open;
    },
    track<T>(call: Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const release = (error: Error) => {
          waiting.delete(release);
          reject(error);
        };
        waiting.add(release);
        call.then(
          (value) => {
            const pending = waiting.delete(release);
            succeeded();
            if (pending) resolve(value);
          },
          (error: unknown) => {
            const pending = waiting.delete(release);
            if (answered(error)) succeeded();
            else failed();
            if (pending) reject(error);
          },
        );
      });
    },
    probeNow() {
      schedule(0);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
