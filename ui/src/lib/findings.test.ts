import { describe, expect, it } from "vitest";
import type { Finding } from "../bindings/Finding";
import { fieldLabel, findingText, groupFindings, slotForField } from "./findings";

const f = (field: string, message = "m", hint: string | null = null): Finding => ({ code: "wrong_type", field, line: null, message, hint });

describe("slotForField", () => {
  it.each([
    ["title", "title"],
    ["assets", "assets"],
    ["assets[2]", "assets"],
    ["assets.0", "assets"],
    ["class", "class"],
    ["cwe", "cwe"],
    ["cvss", "cvss"],
    ["severity", "severity"],
    ["credit", "credit"],
    ["attestations", "attestations"],
    ["scope_confirmations", "scope_confirmations"],
    ["scopeConfirmations", "scope_confirmations"],
    ["body", "body"],
    ["program", "program"],
    ["Title", "title"],
  ])("%s goes to %s", (field, slot) => {
    expect(slotForField(field)).toBe(slot);
  });

  it.each(["schema", "+++", "front matter", "", "foo"])("%j has no slot of its own", (field) => {
    expect(slotForField(field)).toBeNull();
  });
});

describe("groupFindings", () => {
  it("puts each finding beside its field and the rest in the summary, keeping order", () => {
    const findings = [
      f("title", "missing title"),
      f("attestations", "missing attestation a"),
      f("schema", "missing `schema = 1`"),
      f("attestations", "missing attestation b"),
      f("scope_confirmations", "nothing to confirm"),
      f("weird"),
    ];
    const g = groupFindings(findings);
    expect(g.byField.title?.map((x) => x.message)).toEqual(["missing title"]);
    expect(g.byField.attestations?.map((x) => x.message)).toEqual(["missing attestation a", "missing attestation b"]);
    expect(g.byField.scope_confirmations).toHaveLength(1);
    expect(g.byField.body).toBeUndefined();
    expect(g.other.map((x) => x.field)).toEqual(["schema", "weird"]);
  });

  it("handles no findings", () => {
    expect(groupFindings([])).toEqual({ byField: {}, other: [] });
  });
});

describe("findingText", () => {
  it("makes sentences of message and hint", () => {
    expect(findingText(f("title", "missing title", "one line saying what is broken where"))).toBe(
      "Missing title. One line saying what is broken where.",
    );
  });

  it("keeps existing punctuation and works without a hint", () => {
    expect(findingText(f("body", "the report has no description."))).toBe("The report has no description.");
    expect(findingText(f("cwe", "malformed CWE id `79`", "  "))).toBe("Malformed CWE id `79`.");
  });
});

describe("findingText in the app's words", () => {
  const g = (code: Finding["code"], message: string, hint: string | null): Finding => ({ code, field: "x", line: null, message, hint });
  it("never shows the report file's syntax", () => {
    const credit = findingText(g("credit_not_chosen", "credit not chosen", 'add credit = { name = "…" } or credit = "anonymous"'));
    expect(credit).toBe("Credit not chosen. Choose “Credit me” or “Anonymous” under Credit.");
    const rule = findingText(
      g("missing_attestation", 'missing attestation `no-exploitation`: "Please do not exploit the vulnerability."', 'add "no-exploitation" to attestations once it holds'),
    );
    expect(rule).toBe("Rule not ticked yet: “Please do not exploit the vulnerability.” Tick it under Program rules once it holds.");
    const unknown = findingText(g("wrong_type", "title must be a string", "write title = \"…\""));
    expect(unknown).toBe("Title must be a string.");
    for (const t of [credit, rule, unknown]) expect(t).not.toMatch(/=|\[|\{/);
  });
});

describe("fieldLabel", () => {
  it("names known fields and keeps unknown ones", () => {
    expect(fieldLabel("attestations")).toBe("Program rules");
    expect(fieldLabel("scopeConfirmations")).toBe("Scope");
    expect(fieldLabel("schema")).toBe("schema");
  });
});
