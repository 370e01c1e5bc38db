import { describe, expect, it } from "vitest";
import { isStepScreen, stepsOf, type Progress } from "./steps";

const start: Progress = { screen: "programs", keyConfirmed: false, findings: 6, readyToSeal: false, delivered: false };

describe("stepsOf", () => {
  it("starts at the program, everything left", () => {
    const s = stepsOf(start);
    expect(s.map((x) => x.state)).toEqual(["current", "todo", "todo", "todo"]);
    expect(s[0]!.left).toBe("confirm the team's key");
    expect(s[1]!.left).toBe("6 points to fix");
  });

  it("marks what is done and where the researcher is", () => {
    const s = stepsOf({ ...start, screen: "report", keyConfirmed: true, findings: 1 });
    expect(s.map((x) => x.state)).toEqual(["done", "current", "todo", "todo"]);
    expect(s[1]!.left).toBe("1 point to fix");
  });

  it("is at Send on Review once the report is ready, and done once delivered", () => {
    const ready = { ...start, screen: "review" as const, keyConfirmed: true, findings: 0, readyToSeal: true };
    expect(stepsOf(ready).map((x) => x.state)).toEqual(["done", "done", "done", "current"]);
    expect(stepsOf({ ...ready, delivered: true }).map((x) => x.state)).toEqual(["done", "done", "done", "done"]);
    expect(stepsOf({ ...ready, readyToSeal: false, findings: 2 }).map((x) => x.state)).toEqual([
      "done",
      "todo",
      "current",
      "todo",
    ]);
  });

  it("shows on the three screens of the flow only", () => {
    expect(["programs", "report", "review"].every((s) => isStepScreen(s as never))).toBe(true);
    expect(isStepScreen("drafts") || isStepScreen("settings") || isStepScreen("sent")).toBe(false);
  });
});
