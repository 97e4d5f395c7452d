// The shared hooks' contracts: a submit's busy and error state; an event stream followed while enabled, listened to
// again after it ends, closed when disabled or unmounted (a fake EventSource stands in for the browser's).
import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FakeEventSource } from "../test/FakeEventSource";
import { useEventStream, useSubmit } from "./hooks";

describe("useSubmit", () => {
  it("is busy while the work runs, keeps what it threw, and clears it on the next submit", async () => {
    const { result } = renderHook(() => useSubmit());
    let finish = () => {};
    let running!: Promise<void>;
    act(() => {
      running = result.current.submit(() => new Promise<void>((resolve) => (finish = resolve)));
    });
    expect(result.current.busy).toBe(true);
    await act(async () => {
      finish();
      await running;
    });
    expect(result.current).toMatchObject({ busy: false, error: null });

    const refused = new Error("refused");
    await act(() => result.current.submit(() => Promise.reject(refused)));
    expect(result.current).toMatchObject({ busy: false, error: refused });

    act(() => {
      running = result.current.submit(() => new Promise<void>((resolve) => (finish = resolve)));
    });
    expect(result.current).toMatchObject({ busy: true, error: null });
    await act(async () => {
      finish();
      await running;
    });
  });
});

describe("useEventStream", () => {
  beforeEach(() => {
    FakeEventSource.all = [];
    vi.stubGlobal("EventSource", FakeEventSource);
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  const follow = (enabled: boolean, onEvent = vi.fn()) =>
    renderHook(({ on }) => useEventStream("/api/v1/tasks/t1/events", on, onEvent, 3000), { initialProps: { on: enabled } });

  it("hands over status and progress events while enabled, and closes once disabled", () => {
    const onEvent = vi.fn();
    const { rerender } = follow(true, onEvent);
    expect(FakeEventSource.all.map((s) => s.url)).toEqual(["/api/v1/tasks/t1/events"]);
    const source = FakeEventSource.all[0]!;
    source.emit("progress", { progress: 40 });
    source.emit("status", { status: "completed" });
    source.emit("other", { ignored: true });
    expect(onEvent.mock.calls).toEqual([[{ progress: 40 }], [{ status: "completed" }]]);
    rerender({ on: false });
    expect(source.closed).toBe(true);
    act(() => vi.advanceTimersByTime(10_000));
    expect(FakeEventSource.all).toHaveLength(1);
  });

  it("opens nothing while disabled", () => {
    follow(false);
    expect(FakeEventSource.all).toEqual([]);
  });

  it("listens again a while after the stream ends, and not after unmount", () => {
    const { unmount } = follow(true);
    act(() => FakeEventSource.all[0]!.onerror?.());
    expect(FakeEventSource.all[0]!.closed).toBe(true);
    act(() => vi.advanceTimersByTime(2999));
    expect(FakeEventSource.all).toHaveLength(1);
    act(() => vi.advanceTimersByTime(1));
    expect(FakeEventSource.all).toHaveLength(2);
    act(() => FakeEventSource.all[1]!.onerror?.());
    unmount();
    act(() => vi.advanceTimersByTime(10_000));
    expect(FakeEventSource.all).toHaveLength(2);
  });
});
