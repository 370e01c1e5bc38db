// Maps the backend's findings (Finding.field is a front-matter key or `body`) to the
// error slot beside the matching form field; anything else goes into a summary list.

import type { Finding } from "../bindings/Finding";

/** The form fields that have an error slot of their own. */
export const FIELD_SLOTS = [
  "program",
  "title",
  "assets",
  "class",
  "scope_confirmations",
  "cwe",
  "cvss",
  "severity",
  "credit",
  "attestations",
  "body",
] as const;

export type FieldSlot = (typeof FIELD_SLOTS)[number];

const ALIASES: Record<string, FieldSlot> = {
  scopeconfirmations: "scope_confirmations",
  scope_confirmations: "scope_confirmations",
  scope: "scope_confirmations",
  attestation: "attestations",
  asset: "assets",
  description: "body",
};

/** The slot a finding belongs to, or `null` for the summary list. Accepts snake_case and
 * camelCase keys, and indexed forms such as `assets[2]` or `assets.2`. */
export function slotForField(field: string): FieldSlot | null {
  const base = field.trim().replace(/(\[\d+\]|\.\d+)$/, "");
  const lower = base.toLowerCase();
  if ((FIELD_SLOTS as readonly string[]).includes(lower)) return lower as FieldSlot;
  const snake = base.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  if ((FIELD_SLOTS as readonly string[]).includes(snake)) return snake as FieldSlot;
  return ALIASES[lower] ?? ALIASES[snake] ?? null;
}

export interface GroupedFindings {
  byField: Partial<Record<FieldSlot, Finding[]>>;
  other: Finding[];
}

export function groupFindings(findings: readonly Finding[]): GroupedFindings {
  const byField: Partial<Record<FieldSlot, Finding[]>> = {};
  const other: Finding[] = [];
  for (const f of findings) {
    const slot = slotForField(f.field);
    if (slot === null) {
      other.push(f);
    } else {
      (byField[slot] ??= []).push(f);
    }
  }
  return { byField, other };
}

/**
 * The findings shown on the Report screen: a field's once the researcher has left it (touched),
 * every one after "Check the report" (or for a draft opened with content). The program's finding
 * always shows (nothing to type there); findings of no field wait for the check.
 */
export function visibleFindings(g: GroupedFindings, touched: ReadonlySet<string>, all: boolean): GroupedFindings {
  if (all) return g;
  const byField: Partial<Record<FieldSlot, Finding[]>> = {};
  for (const [slot, list] of Object.entries(g.byField) as [FieldSlot, Finding[]][]) {
    if (slot === "program" || touched.has(slot)) byField[slot] = list;
  }
  return { byField, other: [] };
}

/** The finding in words: the message, then the hint as advice. */
/** The remedy in the app's words: the core's hints are worded for the report file (`add
 * credit = { name = "…" }`), which the researcher never sees here. */
export function appHint(f: Finding): string | null {
  switch (f.code) {
    case "missing_title":
      return "One line saying what is broken where.";
    case "missing_asset":
      return "Name at least one affected URL, host, IP address or CIDR range.";
    case "invalid_asset":
      return "Use a full URL (https://…), a host name, an IP address or a CIDR range.";
    case "missing_class":
      return "Choose the class that describes the issue best.";
    case "credit_not_chosen":
      return "Choose “Credit me” or “Anonymous” under Credit.";
    case "empty_credit_name":
      return "Type the name the team should credit, or choose “Anonymous”.";
    case "missing_attestation":
      return "Tick it under Program rules once it holds.";
    case "no_description":
      return "Describe the problem in the description.";
    case "no_steps_section":
      return "Add a “Steps to reproduce” section to the description.";
    case "out_of_scope":
      return "The program will not accept this class; choose another only if it describes the issue better.";
    case "out_of_scope_unless_confirmed":
      return "If the program's condition holds, confirm it under the class; otherwise the team will not accept the report.";
    case "nothing_to_confirm":
      return "Untick the confirmation: this class needs none.";
    default: {
      // Other hints are kept unless they speak the file's syntax.
      const h = f.hint?.trim() ?? "";
      return h === "" || /[=[{]|front matter|schema/.test(h) ? null : h;
    }
  }
}

/** A missing attestation as a person reads it: the rule in the policy's words. */
function personMessage(f: Finding): string {
  if (f.code === "missing_attestation") {
    const quoted = /: "(.*)"$/s.exec(f.message.trim());
    if (quoted) return `Rule not ticked yet: “${quoted[1]}”`;
  }
  return f.message.trim();
}

export function findingText(f: Finding): string {
  const message = personMessage(f);
  const sentence = /[.!?]["”]?$/.test(message) ? message : `${message}.`;
  const capitalized = sentence.charAt(0).toUpperCase() + sentence.slice(1);
  const hint = appHint(f)?.trim() ?? "";
  if (hint === "") return capitalized;
  const hintSentence = /[.!?]$/.test(hint) ? hint : `${hint}.`;
  return `${capitalized} ${hintSentence.charAt(0).toUpperCase()}${hintSentence.slice(1)}`;
}

/** Human label of a slot, used in the summary and on the review screen. */
export function fieldLabel(field: string): string {
  const slot = slotForField(field);
  switch (slot) {
    case "program":
      return "Program";
    case "title":
      return "Title";
    case "assets":
      return "Affected assets";
    case "class":
      return "Class";
    case "scope_confirmations":
      return "Scope";
    case "cwe":
      return "CWE";
    case "cvss":
      return "CVSS";
    case "severity":
      return "Severity";
    case "credit":
      return "Credit";
    case "attestations":
      return "Program rules";
    case "body":
      return "Description";
    case null:
      return field;
  }
}
