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

/** The finding in words: the message, then the hint as advice. */
export function findingText(f: Finding): string {
  const message = f.message.trim();
  const sentence = /[.!?]$/.test(message) ? message : `${message}.`;
  const capitalized = sentence.charAt(0).toUpperCase() + sentence.slice(1);
  if (f.hint === null || f.hint.trim() === "") return capitalized;
  const hint = f.hint.trim();
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
