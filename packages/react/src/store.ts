// A minimal external store: one immutable state value, replaced (never mutated) on every change,
// and a set of listeners. React reads it with `useSyncExternalStore`; selector hooks compare
// what they select, so a change re-renders only the components whose selection changed.

export type Listener = () => void;

export class Store<T> {
  private state: T;
  private readonly initial: T;
  private readonly listeners = new Set<Listener>();

  constructor(initial: T) {
    this.state = initial;
    this.initial = initial;
  }

  getState = (): T => this.state;

  /** The state server rendering sees: always the initial one, so hydration matches. */
  getServerState = (): T => this.initial;

  /** Replaces the state with `update(state)`; listeners run only if it changed. */
  update(update: (state: T) => T): void {
    const next = update(this.state);
    if (Object.is(next, this.state)) return;
    this.state = next;
    for (const listener of Array.from(this.listeners)) listener();
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };
}
