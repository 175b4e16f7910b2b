// `useSyncExternalStore` with a selector and an equality test: the component re-renders only
// when what it selects changes (by `isEqual`), and it gets the previous value back otherwise,
// so derived arrays and objects keep their identity.

import { useEffect, useMemo, useRef, useSyncExternalStore } from 'react';

import type { Store } from '../store.js';

export function useStoreSelector<S, T>(
  store: Store<S>,
  selector: (state: S) => T,
  isEqual: (a: T, b: T) => boolean = Object.is,
): T {
  const last = useRef<{ has: boolean; value: T }>({ has: false, value: undefined as T });
  const [getSnapshot, getServerSnapshot] = useMemo(() => {
    let memoState: S;
    let memoValue: T;
    let has = false;
    const select = (state: S): T => {
      if (has && Object.is(state, memoState)) return memoValue;
      const next = selector(state);
      const previous = has ? memoValue : last.current.has ? last.current.value : undefined;
      const keep = (has || last.current.has) && isEqual(previous as T, next);
      memoState = state;
      memoValue = keep ? (previous as T) : next;
      has = true;
      return memoValue;
    };
    return [() => select(store.getState()), () => select(store.getServerState())];
    // A new selector each render is fine: the previous value is kept when equal.
  }, [store, selector, isEqual]);
  const value = useSyncExternalStore(store.subscribe, getSnapshot, getServerSnapshot);
  useEffect(() => {
    last.current = { has: true, value };
  }, [value]);
  return value;
}

/** Equal arrays: same length, same items (by identity). */
export function shallowArrayEqual<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Equal objects: same keys, same values (by identity). */
export function shallowEqual<T extends object>(a: T, b: T): boolean {
  if (Object.is(a, b)) return true;
  const ka = Object.keys(a) as (keyof T)[];
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const key of ka) if (!Object.is(a[key], b[key])) return false;
  return true;
}
