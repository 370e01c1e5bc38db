// The researcher's way through a report, shown above the Programs, Report and Review screens:
// program → report → review → send, where they are and what is left. Pure, so it is tested.

import type { Screen } from "../state.svelte";

export type StepId = "program" | "report" | "review" | "send";
export type StepState = "done" | "current" | "todo";

export interface Step {
  id: StepId;
  label: string;
  /** The screen the step is done on. */
  screen: Screen;
  state: StepState;
  /** What is left, in a few words ("" when nothing). */
  left: string;
}

export interface Progress {
  screen: Screen;
  /** A program is chosen and its team key confirmed. */
  keyConfirmed: boolean;
  /** The report's open findings. */
  findings: number;
  /** No finding and a confirmed key: the backend seals it. */
  readyToSeal: boolean;
  /** This draft was submitted or exported sealed. */
  delivered: boolean;
}

/** Whether a screen is one of the steps' (the indicator shows there). */
export function isStepScreen(screen: Screen): boolean {
  return screen === "programs" || screen === "report" || screen === "review";
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function stepsOf(p: Progress): Step[] {
  const done: Record<StepId, boolean> = {
    program: p.keyConfirmed,
    report: p.findings === 0,
    review: p.readyToSeal,
    send: p.delivered,
  };
  const left: Record<StepId, string> = {
    program: p.keyConfirmed ? "" : "confirm the team's key",
    report: p.findings === 0 ? "" : `${plural(p.findings, "point", "points")} to fix`,
    review: p.readyToSeal ? "" : "check what the team receives",
    send: p.delivered ? "" : "submit or export",
  };
  // On the Review screen, a report ready to seal is at its last step: sending it.
  let current: StepId | null = null;
  if (p.screen === "programs") current = "program";
  else if (p.screen === "report") current = "report";
  else if (p.screen === "review") current = p.readyToSeal && !p.delivered ? "send" : p.delivered ? null : "review";
  const steps: [StepId, string, Screen][] = [
    ["program", "Program", "programs"],
    ["report", "Report", "report"],
    ["review", "Review", "review"],
    ["send", "Send", "review"],
  ];
  return steps.map(([id, label, screen]) => ({
    id,
    label,
    screen,
    state: id === current ? "current" : done[id] ? "done" : "todo",
    left: left[id],
  }));
}
