import { type DependencyList, useCallback, useEffect, useRef, useState } from "react";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on reload()); re-runs every `everyMs` if given. Keeps the last good data. */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const current = useRef(load);
  current.current = load;
  const reload = useCallback(() => setTick((n) => n + 1), []);

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = () => {
      current
        .current()
        .then((value) => {
          if (!alive) return;
          setData(value);
          setError(null);
        })
        .catch((exc: unknown) => alive && setError(exc))
        .finally(() => {
          if (!alive) return;
          setLoading(false);
          if (everyMs) timer = setTimeout(run, everyMs);
        });
    };
    setLoading(true);
    run();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick, everyMs]);

  return { data, error, loading, reload };
}
