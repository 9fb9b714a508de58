import cluster from 'node:cluster';
import { isPrimaryMessage, sendToPrimary, type PrimaryMessage, type WorkerMessage } from './protocol.js';

/** PrimaryLink is a worker's side of the channel to its primary: the one place that listens to it. */
export interface PrimaryLink {
  send(message: WorkerMessage): Promise<boolean>;
  /** ask sends and resolves with the first answer `match` accepts, or null after timeoutMs or when the primary is gone. */
  ask<T extends PrimaryMessage>(message: WorkerMessage, match: (answer: PrimaryMessage) => answer is T, timeoutMs: number): Promise<T | null>;
  /** listen calls back with every message of the primary that answers no ask (its own requests). */
  listen(listener: (message: PrimaryMessage) => void): void;
  /** onGone calls back once when the channel closes: the primary died or disconnected us. */
  onGone(listener: () => void): void;
}

/**
 * linkToPrimary opens the worker's side of the channel, before anything else in the worker can
 * send on it. Node's cluster makes a worker exit at once when its primary disconnects, resetting
 * every request in flight; marking the worker as one that exits after a disconnect turns that
 * off, so the worker drains instead. A send the primary can no longer receive (EPIPE, a closed
 * channel) would be an unhandled 'error' on process when a library sends without a callback
 * (prom-client, rate-limiter-flexible): here it is nothing, the 'disconnect' says the rest.
 */
export function linkToPrimary(): PrimaryLink {
  if (cluster.worker) {
    cluster.worker.exitedAfterDisconnect = true;
    // node:cluster re-emits the process's send errors on its Worker object, where nobody listens.
    cluster.worker.on('error', sendFailed);
  }
  const waiting = new Set<(answer: PrimaryMessage | null) => boolean>();
  const goneListeners: Array<() => void> = [];
  const listeners: Array<(message: PrimaryMessage) => void> = [];
  let gone = !process.connected;
  process.on('message', function fromPrimary(message: unknown) {
    if (!isPrimaryMessage(message)) return;
    for (const waiter of waiting) if (waiter(message)) return;
    for (const listener of listeners) listener(message);
  });
  process.on('error', sendFailed);
  process.once('disconnect', function primaryGone() {
    gone = true;
    for (const waiter of [...waiting]) waiter(null);
    for (const listener of goneListeners.splice(0)) listener();
  });
  function sendFailed(): void {
    // The primary is gone; 'disconnect' follows.
  }
  return {
    send: sendToPrimary,
    ask(message, match, timeoutMs) {
      return new Promise((resolve) => {
        if (gone) return resolve(null);
        const timer = setTimeout(() => finish(null), timeoutMs);
        function finish(answer: Parameters<typeof resolve>[0]) {
          clearTimeout(timer);
          waiting.delete(waiter);
          resolve(answer);
        }
        function waiter(answer: PrimaryMessage | null): boolean {
          if (answer !== null && !match(answer)) return false;
          finish(answer as Parameters<typeof resolve>[0]);
          return true;
        }
        waiting.add(waiter);
        void sendToPrimary(message).then((sent) => sent || finish(null));
      });
    },
    listen(listener) {
      listeners.push(listener);
    },
    onGone(listener) {
      if (gone) listener();
      else goneListeners.push(listener);
    },
  };
}
