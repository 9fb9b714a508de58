// The states /health reports: the server's place in its lifecycle and each dependency's.

export type DependencyState = 'up' | 'down' | 'disabled';
/** The database answers reads ('up'), answers reads but has no disk space for writes ('full'), or does not answer. */
export type DatabaseState = 'up' | 'full' | 'down';

/** Lifecycle is where the server tells the app whether it takes traffic. */
export interface Lifecycle {
  state: 'starting' | 'ready' | 'stopping';
}
