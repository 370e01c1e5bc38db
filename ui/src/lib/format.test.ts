import { describe, expect, it } from "vitest";
import {
  displayContact,
  fingerprintGroups,
  formatDate,
  formatExplanation,
  formatName,
  formatScore,
  groupFingerprint,
  humanSize,
  severityDisplay,
} from "./format";

describe("humanSize", () => {
  it.each([
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1 KB"],
    [1536, "1.5 KB"],
    [10 * 1024, "10 KB"],
    [1024 * 1024 - 1, "1 MB"],
    [5 * 1024 * 1024 + 300 * 1024, "5.3 MB"],
    [123 * 1024 * 1024, "123 MB"],
    [3 * 1024 ** 3, "3 GB"],
    [2 * 1024 ** 4, "2 TB"],
  ])("%d bytes is %s", (bytes, text) => {
    expect(humanSize(bytes)).toBe(text);
  });

  it("shows a dash for nonsense", () => {
    expect(humanSize(-1)).toBe("—");
    expect(humanSize(Number.NaN)).toBe("—");
  });
});

describe("groupFingerprint", () => {
  const fp = "0123456789ABCDEF0123456789ABCDEF01234567";

  it("groups a v4 fingerprint into ten groups of four", () => {
    expect(groupFingerprint(fp)).toBe("0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567");
    expect(fingerprintGroups(fp)).toHaveLength(10);
  });

  it("groups a v6 fingerprint into sixteen groups", () => {
    expect(fingerprintGroups("AB".repeat(32))).toHaveLength(16);
  });

  it("ignores existing whitespace and upper-cases", () => {
    expect(groupFingerprint("0123 4567  89ab\ncdef")).toBe("0123 4567 89AB CDEF");
  });

  it("keeps a short tail group", () => {
    expect(groupFingerprint("ABCDEF")).toBe("ABCD EF");
  });

  it("handles the empty string", () => {
    expect(groupFingerprint("")).toBe("");
    expect(fingerprintGroups("")).toEqual([]);
  });
});

describe("severityDisplay", () => {
  it.each([
    ["none", "None", "none"],
    ["low", "Low", "low"],
    ["medium", "Medium", "medium"],
    ["high", "High", "high"],
    ["critical", "Critical", "critical"],
    ["CRITICAL", "Critical", "critical"],
    [" High ", "High", "high"],
  ])("%j shows as %s", (input, label, tone) => {
    expect(severityDisplay(input)).toEqual({ label, tone });
  });

  it("says 'Not set' for nothing", () => {
    expect(severityDisplay(null)).toEqual({ label: "Not set", tone: "unknown" });
    expect(severityDisplay(undefined)).toEqual({ label: "Not set", tone: "unknown" });
    expect(severityDisplay("")).toEqual({ label: "Not set", tone: "unknown" });
  });

  it("shows unknown severities as given", () => {
    expect(severityDisplay("severe")).toEqual({ label: "severe", tone: "unknown" });
  });
});

describe("other formatting", () => {
  it("prints scores with one decimal", () => {
    expect(formatScore(9.8)).toBe("9.8");
    expect(formatScore(10)).toBe("10.0");
    expect(formatScore(0)).toBe("0.0");
  });

  it("formats RFC 3339 dates and keeps anything else", () => {
    expect(formatDate("2024-03-05T12:00:00Z")).toBe("2024-03-05");
    expect(formatDate("not a date")).toBe("not a date");
    expect(formatDate(null)).toBe("—");
  });

  it("explains both message formats", () => {
    expect(formatExplanation("SEIPDv1")).toBe("Readable by every OpenPGP tool, including GnuPG.");
    expect(formatExplanation("SEIPDv2")).toContain("not GnuPG 2.2");
    expect(formatName("SEIPDv1")).toBe("Standard OpenPGP");
    expect(formatName("SEIPDv2")).toBe("Modern OpenPGP");
    // The researcher's words never carry the packet names.
    for (const f of ["SEIPDv1", "SEIPDv2"]) {
      expect(formatExplanation(f) + formatName(f)).not.toMatch(/SEIPD|AEAD/);
    }
  });

  it("strips mailto: from contacts", () => {
    expect(displayContact("mailto:security@novu.co")).toBe("security@novu.co");
    expect(displayContact("https://example.com/report")).toBe("https://example.com/report");
  });
});

describe("sourceLabel", () => {
  it("words each source", async () => {
    const { sourceLabel } = await import("./format");
    expect(sourceLabel("pasted")).toBe("pasted by you");
    expect(sourceLabel("file:team.asc")).toBe("the file team.asc");
    expect(sourceLabel("discovery:security.txt+wkd")).toBe("the team's security.txt and WKD (the team's own domain)");
    expect(sourceLabel("discovery:vks")).toBe("keys.openpgp.org");
    expect(sourceLabel("discovery")).toBe("discovery");
    expect(sourceLabel("something-new")).toBe("something-new");
  });
});
