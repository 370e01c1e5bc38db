// The report form's logic as pure functions over the core's Report (the draft), plus the
// debounced synchronisation with the backend (which owns the draft and answers with findings).

import type { Class } from "../bindings/Class";
import type { DraftStatus } from "../bindings/DraftStatus";
import type { OutOfScope } from "../bindings/OutOfScope";
import type { Report } from "../bindings/Report";
import { debounce, type Debounced } from "./debounce";

/** The draft is the core's report as it is being written. */
export type ReportDraft = Report;
type Credit = Report["credit"];

export const DRAFT_DEBOUNCE_MS = 200;

export function emptyDraft(): ReportDraft {
  return {
    schema: 1,
    program: "",
    title: "",
    assets: [],
    class: "",
    cwe: null,
    cvss: null,
    severity: null,
    credit: null,
    attestations: [],
    scope_confirmations: [],
    reference: null,
    body: "",
  };
}

/** Which credit is chosen: a name, anonymous, or not yet. */
export function creditKind(d: ReportDraft): "named" | "anonymous" | "unset" {
  if (d.credit === null) return "unset";
  return d.credit === "anonymous" ? "anonymous" : "named";
}

/** The name to credit, when one is chosen. */
export function creditName(d: ReportDraft): string {
  return d.credit !== null && d.credit !== "anonymous" ? d.credit.name : "";
}

/** The handle to credit, when one is given. */
export function creditHandle(d: ReportDraft): string {
  return d.credit !== null && d.credit !== "anonymous" ? (d.credit.handle ?? "") : "";
}

/** `""` (after trimming) becomes `null`; anything else is kept as typed. */
function optional(value: string): string | null {
  return value.trim() === "" ? null : value;
}

export function setProgram(d: ReportDraft, program: string): ReportDraft {
  if (d.program === program) return d;
  // Attestations and scope confirmations belong to the previous program's policy.
  return { ...d, program, attestations: [], scope_confirmations: [] };
}

export function setTitle(d: ReportDraft, title: string): ReportDraft {
  return { ...d, title };
}

export function addAsset(d: ReportDraft): ReportDraft {
  return { ...d, assets: [...d.assets, ""] };
}

/** Sets one asset row; writing just past the end appends a row (the form always shows at
 * least one row to type into). */
export function setAsset(d: ReportDraft, index: number, value: string): ReportDraft {
  if (index < 0 || index > d.assets.length) return d;
  const assets = d.assets.slice();
  assets[index] = value;
  return { ...d, assets };
}

/** The rows the form shows: the assets, or one empty row to type into. */
export function assetRows(d: ReportDraft): string[] {
  return d.assets.length > 0 ? d.assets : [""];
}

export function removeAsset(d: ReportDraft, index: number): ReportDraft {
  if (index < 0 || index >= d.assets.length) return d;
  return { ...d, assets: d.assets.filter((_, i) => i !== index) };
}

/** Changes the class. Scope confirmations for other classes are dropped (they no longer
 * describe this report), and the CWE follows the class's suggestion unless the researcher
 * typed a CWE of their own. */
export function setClass(d: ReportDraft, classId: string, classes: readonly Class[]): ReportDraft {
  const previous = classes.find((c) => c.id === d.class);
  const next = classes.find((c) => c.id === classId);
  const cweIsSuggestion = d.cwe === null || d.cwe.trim() === "" || (previous !== undefined && d.cwe === previous.cwe);
  const cwe = cweIsSuggestion ? (next?.cwe ?? null) : d.cwe;
  return {
    ...d,
    class: classId,
    cwe,
    scope_confirmations: d.scope_confirmations.filter((c) => c === classId),
  };
}

function toggle(list: readonly string[], id: string, on: boolean): string[] {
  const without = list.filter((x) => x !== id);
  return on ? [...without, id] : without;
}

export function setScopeConfirmation(d: ReportDraft, classId: string, confirmed: boolean): ReportDraft {
  return { ...d, scope_confirmations: toggle(d.scope_confirmations, classId, confirmed) };
}

export function setAttestation(d: ReportDraft, id: string, attested: boolean): ReportDraft {
  return { ...d, attestations: toggle(d.attestations, id, attested) };
}

export function setCwe(d: ReportDraft, cwe: string): ReportDraft {
  return { ...d, cwe: optional(cwe) };
}

export function setCvss(d: ReportDraft, vector: string): ReportDraft {
  const v = vector.trim();
  return { ...d, cvss: v === "" ? null : v };
}

/** `null` (or `""`) means "derive from CVSS". */
export function setSeverity(d: ReportDraft, severity: string | null): ReportDraft {
  return { ...d, severity: severity === null || severity === "" ? null : severity };
}

export function setBody(d: ReportDraft, body: string): ReportDraft {
  return { ...d, body };
}

/** Switches between named and anonymous credit, keeping a typed name around in the UI's
 * draft only while "named" is chosen. */
export function setCreditKind(
  d: ReportDraft,
  kind: "named" | "anonymous" | "unset",
  remembered?: { name: string; handle: string | null },
): ReportDraft {
  switch (kind) {
    case "anonymous":
      return { ...d, credit: "anonymous" };
    case "unset":
      return { ...d, credit: null };
    case "named": {
      if (creditKind(d) === "named") return d;
      return { ...d, credit: { name: remembered?.name ?? "", handle: remembered?.handle ?? null } };
    }
  }
}

export function setCreditName(d: ReportDraft, name: string): ReportDraft {
  const handle = creditHandle(d);
  return { ...d, credit: { name, handle: optional(handle) } };
}

export function setCreditHandle(d: ReportDraft, handle: string): ReportDraft {
  return { ...d, credit: { name: creditName(d), handle: optional(handle) } };
}

/** The out-of-scope entry of the program for the draft's class, if any. */
export function outOfScopeFor(classId: string, outOfScope: readonly OutOfScope[] | undefined): OutOfScope | null {
  if (!classId || !outOfScope) return null;
  return outOfScope.find((o) => o.class === classId) ?? null;
}

/** Comparable form: strings trimmed, empty strings dropped from lists, `""` equal to `null`,
 * object keys in a fixed order. */
function normalize(value: unknown): unknown {
  if (typeof value === "string") {
    const t = value.trim();
    return t === "" ? null : t;
  }
  if (Array.isArray(value)) {
    return value.map(normalize).filter((v) => v !== null);
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    // Sorted keys: field order is not meaning.
    for (const k of Object.keys(value).sort()) out[k] = normalize((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

function sameMeaning(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
}

/** Merges the draft the backend returned into the one on screen. A field whose returned value
 * only differs by the backend's normalisation (trimmed text, empty rows dropped) keeps what the
 * researcher is typing; any other difference is the backend's word and wins. */
export function mergeReturnedDraft(local: ReportDraft, returned: ReportDraft): ReportDraft {
  const merged = { ...returned } as Record<keyof ReportDraft, unknown>;
  for (const key of Object.keys(returned) as (keyof ReportDraft)[]) {
    if (sameMeaning(local[key], returned[key])) merged[key] = local[key];
  }
  return merged as ReportDraft;
}

/** The draft as sent to the backend: empty asset rows (still being typed) left out, and
 * one-line fields trimmed; the Markdown body is sent exactly as typed. */
export function toWire(d: ReportDraft): ReportDraft {
  const trimmedOrNull = (v: string | null) => (v === null || v.trim() === "" ? null : v.trim());
  const credit: Credit =
    d.credit !== null && d.credit !== "anonymous"
      ? { name: d.credit.name.trim(), handle: trimmedOrNull(d.credit.handle ?? null) }
      : d.credit;
  return {
    ...d,
    title: d.title.trim(),
    assets: d.assets.map((a) => a.trim()).filter((a) => a !== ""),
    cwe: trimmedOrNull(d.cwe),
    cvss: trimmedOrNull(d.cvss),
    severity: trimmedOrNull(d.severity),
    credit,
  };
}

export interface DraftSyncOptions {
  send: (draft: ReportDraft) => Promise<DraftStatus>;
  /** Called with each answer; `latest` is false when newer edits were made meanwhile. */
  onStatus: (status: DraftStatus, latest: boolean) => void;
  onError: (error: unknown) => void;
  delayMs?: number;
}

/** Sends edits to the backend at most once per quiet period and tells which answers are
 * still current, so a slow answer never overwrites newer typing. */
export class DraftSync {
  private edits = 0;
  private readonly debounced: Debounced<[ReportDraft]>;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly options: DraftSyncOptions) {
    this.debounced = debounce((d: ReportDraft) => {
      this.inFlight = this.send(d);
    }, options.delayMs ?? DRAFT_DEBOUNCE_MS);
  }

  /** Records an edit; the draft is sent once typing pauses. */
  edit(draft: ReportDraft): void {
    this.edits += 1;
    this.debounced(draft);
  }

  /** Sends any pending edit now and waits for its answer. */
  async flush(): Promise<void> {
    this.debounced.flush();
    await this.inFlight;
  }

  cancel(): void {
    this.debounced.cancel();
  }

  pending(): boolean {
    return this.debounced.pending();
  }

  private async send(draft: ReportDraft): Promise<void> {
    const generation = this.edits;
    try {
      const status = await this.options.send(draft);
      this.options.onStatus(status, generation === this.edits);
    } catch (e) {
      this.options.onError(e);
    }
  }
}
