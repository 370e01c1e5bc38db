import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { debounce } from "./debounce";

describe("debounce", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("calls once with the last arguments after a quiet period", () => {
    const fn = vi.fn();
    const d = debounce(fn, 200);
    d(1);
    d(2);
    vi.advanceTimersByTime(199);
    d(3);
    vi.advanceTimersByTime(199);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(fn).toHaveBeenCalledWith(3);
  });

  it("calls again for edits after the first call", () => {
    const fn = vi.fn();
    const d = debounce(fn, 100);
    d("a");
    vi.advanceTimersByTime(100);
    d("b");
    vi.advanceTimersByTime(100);
    expect(fn.mock.calls).toEqual([["a"], ["b"]]);
  });

  it("flush runs a pending call at once, and only once", () => {
    const fn = vi.fn();
    const d = debounce(fn, 100);
    d("x");
    expect(d.pending()).toBe(true);
    d.flush();
    expect(fn).toHaveBeenCalledWith("x");
    expect(d.pending()).toBe(false);
    vi.advanceTimersByTime(500);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("flush without a pending call does nothing", () => {
    const fn = vi.fn();
    debounce(fn, 100).flush();
    expect(fn).not.toHaveBeenCalled();
  });

  it("cancel drops a pending call", () => {
    const fn = vi.fn();
    const d = debounce(fn, 100);
    d("x");
    d.cancel();
    vi.advanceTimersByTime(500);
    expect(fn).not.toHaveBeenCalled();
    expect(d.pending()).toBe(false);
  });
});
