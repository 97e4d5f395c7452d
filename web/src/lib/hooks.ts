// Hooks the pages share: loading data, submitting a form, following an event stream.
import { type DependencyList, useCallback, useEffect, useRef, useState } from "react";

import { subscribe } from "../api/sse";

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

export interface Submitting {
  busy: boolean;
  error: unknown;
  /** Runs `work` with busy set and the last error cleared; a throw becomes `error`. */
  submit: (work: () => Promise<void>) => Promise<void>;
}

/** Busy and error state for a form's (or a button's) one action at a time. */
export function useSubmit(): Submitting {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = useCallback(async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, submit };
}

const STREAM_EVENTS = ["status", "progress"];
const RECONNECT_MS = 3000;

/**
 * Follows a task's or document's event stream (its `status` and `progress` events) while `enabled`. The service ends
 * a stream after the last event, and a stream can break: either way it listens again `retryMs` later, until the
 * caller, seeing the thing finished, turns `enabled` off (which closes the stream).
 */
export function useEventStream(url: string, enabled: boolean, onEvent: (data: unknown) => void, retryMs = RECONNECT_MS): void {
  const [attempt, setAttempt] = useState(0);
  const handler = useRef(onEvent);
  handler.current = onEvent;

  useEffect(() => {
    if (!enabled) return;
    let closed = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const close = subscribe(
      url,
      STREAM_EVENTS,
      (_event, data) => handler.current(data),
      () => {
        if (!closed) timer = setTimeout(() => setAttempt((n) => n + 1), retryMs);
      },
    );
    return () => {
      closed = true;
      clearTimeout(timer);
      close();
    };
  }, [url, enabled, retryMs, attempt]);
}
