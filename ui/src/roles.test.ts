import { describe, expect, it } from "vitest";
import { screensFor } from "./state.svelte";

describe("screensFor", () => {
  it("shows every screen until a role is chosen, then the role's own", () => {
    const ids = (r: Parameters<typeof screensFor>[0]) => screensFor(r).map((s) => s.id);
    expect(ids(null)).toEqual(["drafts", "programs", "report", "review", "sent", "inbox", "settings"]);
    expect(ids("both")).toEqual(ids(null));
    expect(ids("researcher")).not.toContain("inbox");
    expect(ids("researcher")).toContain("report");
    expect(ids("team")).toEqual(["inbox", "settings"]);
  });
});
