import { describe, expect, it } from "vitest";
import {
  composeVector,
  emptyVector,
  isComplete,
  METRICS,
  missingMetrics,
  parseVector,
  switchVersion,
  type CvssVector,
} from "./cvss";

const V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";

function parsed(text: string): CvssVector {
  const r = parseVector(text);
  if (!r.ok) throw new Error(r.error);
  return r.vector;
}

describe("CVSS metric definitions", () => {
  it("has the eight 3.1 base metrics in specification order", () => {
    expect(METRICS["3.1"].map((m) => m.key)).toEqual(["AV", "AC", "PR", "UI", "S", "C", "I", "A"]);
  });
  it("has the eleven 4.0 base metrics in specification order", () => {
    expect(METRICS["4.0"].map((m) => m.key)).toEqual(["AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"]);
  });
});

describe("parseVector", () => {
  it("parses a 3.1 vector", () => {
    const v = parsed(V31);
    expect(v.version).toBe("3.1");
    expect(v.base).toEqual({ AV: "N", AC: "L", PR: "N", UI: "N", S: "U", C: "H", I: "H", A: "H" });
    expect(v.extra).toEqual([]);
  });

  it("parses a 4.0 vector", () => {
    const v = parsed(V40);
    expect(v.version).toBe("4.0");
    expect(v.base.AT).toBe("N");
    expect(v.base.SA).toBe("N");
  });

  it("keeps temporal, environmental and supplemental metrics in order", () => {
    const v = parsed(`${V31}/E:P/RL:O/RC:C`);
    expect(v.extra).toEqual([
      ["E", "P"],
      ["RL", "O"],
      ["RC", "C"],
    ]);
    const w = parsed(`${V40}/E:A/S:P`);
    expect(w.extra).toEqual([
      ["E", "A"],
      ["S", "P"],
    ]);
  });

  it("trims surrounding whitespace", () => {
    expect(parsed(`  ${V31}\n`).version).toBe("3.1");
  });

  it.each([
    ["", "empty"],
    ["AV:N/AC:L", "starts with CVSS"],
    ["CVSS:3.1", "starts with CVSS"],
    ["CVSS:3.1/", "no metrics"],
    ["CVSS:2.0/AV:N", "not supported"],
    ["CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "not supported"],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", "Missing base metric: A"],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H", "Missing base metrics: S, A"],
    ["CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV:X is not valid"],
    ["CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "appears twice"],
    ["CVSS:3.1/AV:N//AC:L", "not a metric"],
    ["CVSS:3.1/AV=N", "not a metric"],
    ["CVSS:4.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "Missing base metrics"],
    ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:R/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "UI:R is not valid"],
    ["CVSS:3.1/E:P/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "must come before"],
  ])("rejects %j (%s)", (text, message) => {
    const r = parseVector(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(message);
  });
});

describe("composeVector", () => {
  it("round-trips 3.1 and 4.0 vectors", () => {
    for (const text of [V31, V40, `${V31}/E:P/RL:O`, `${V40}/E:A`, "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:C/C:N/I:L/A:N"]) {
      expect(composeVector(parsed(text))).toBe(text);
    }
  });

  it("writes base metrics in specification order whatever the choice order", () => {
    const v: CvssVector = {
      version: "3.1",
      base: { A: "H", I: "H", C: "H", S: "U", UI: "N", PR: "N", AC: "L", AV: "N" },
      extra: [],
    };
    expect(composeVector(v)).toBe(V31);
  });

  it("leaves unchosen metrics out and reports them missing", () => {
    const v: CvssVector = { version: "4.0", base: { AV: "N", AC: "L", PR: "" }, extra: [] };
    expect(composeVector(v)).toBe("CVSS:4.0/AV:N/AC:L");
    expect(missingMetrics("4.0", v.base)).toEqual(["AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"]);
    expect(isComplete(v)).toBe(false);
    expect(isComplete(parsed(V40))).toBe(true);
  });

  it("composes an empty vector to the bare prefix", () => {
    expect(composeVector(emptyVector("3.1"))).toBe("CVSS:3.1/");
  });
});

describe("switchVersion", () => {
  it("carries the metrics that mean the same thing from 3.1 to 4.0", () => {
    const v = switchVersion(parsed(V31), "4.0");
    expect(v.version).toBe("4.0");
    expect(v.base).toEqual({ AV: "N", AC: "L", PR: "N", UI: "N", VC: "H", VI: "H", VA: "H" });
    expect(missingMetrics("4.0", v.base)).toEqual(["AT", "SC", "SI", "SA"]);
  });

  it("carries them back from 4.0 to 3.1", () => {
    const v = switchVersion(parsed(V40), "3.1");
    expect(v.base).toEqual({ AV: "N", AC: "L", PR: "N", UI: "N", C: "H", I: "H", A: "H" });
    expect(missingMetrics("3.1", v.base)).toEqual(["S"]);
  });

  it("does not translate user interaction values that differ between versions", () => {
    const v = switchVersion(parsed("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"), "4.0");
    expect(v.base.UI).toBeUndefined();
  });

  it("is the identity for the same version", () => {
    const v = parsed(V31);
    expect(switchVersion(v, "3.1")).toBe(v);
  });
});
