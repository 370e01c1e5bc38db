// Small display helpers shared by the screens.

const UNITS = ["KB", "MB", "GB", "TB"] as const;

/** Human-readable byte size: `0 B`, `999 B`, `1.5 KB`, `12 MB` (binary multiples, one decimal below 10). */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit: (typeof UNITS)[number] = "KB";
  for (const u of UNITS) {
    value /= 1024;
    unit = u;
    if (value < 1024) break;
  }
  const rounded = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  // 1023.95 KB rounds up to 1024 KB; say 1 MB instead.
  if (rounded >= 1024 && unit !== "TB") {
    return `1 ${UNITS[UNITS.indexOf(unit) + 1]}`;
  }
  return `${rounded} ${unit}`;
}

/** Groups a fingerprint into blocks of four characters: `ABCD EF01 …` (whitespace ignored, upper-cased). */
export function groupFingerprint(fingerprint: string): string {
  const clean = fingerprint.replace(/\s+/g, "").toUpperCase();
  const groups = clean.match(/.{1,4}/g);
  return groups ? groups.join(" ") : "";
}

/** The fingerprint as a list of four-character groups, for layouts that wrap between groups. */
export function fingerprintGroups(fingerprint: string): string[] {
  const grouped = groupFingerprint(fingerprint);
  return grouped === "" ? [] : grouped.split(" ");
}

export const SEVERITIES = ["none", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export type SeverityTone = "none" | "low" | "medium" | "high" | "critical" | "unknown";

export interface SeverityDisplay {
  label: string;
  tone: SeverityTone;
}

/** Maps a severity string from the backend or the draft to a label and a colour tone. */
export function severityDisplay(severity: string | null | undefined): SeverityDisplay {
  if (severity === null || severity === undefined || severity.trim() === "") {
    return { label: "Not set", tone: "unknown" };
  }
  const key = severity.trim().toLowerCase();
  switch (key) {
    case "none":
      return { label: "None", tone: "none" };
    case "low":
      return { label: "Low", tone: "low" };
    case "medium":
      return { label: "Medium", tone: "medium" };
    case "high":
      return { label: "High", tone: "high" };
    case "critical":
      return { label: "Critical", tone: "critical" };
    default:
      return { label: severity.trim(), tone: "unknown" };
  }
}

/** A CVSS score with one decimal, as the specifications print it. */
export function formatScore(score: number): string {
  return score.toFixed(1);
}

/** Formats an RFC 3339 timestamp as a readable date; anything unparseable is shown as given. */
export function formatDate(value: string | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** The short explanation of an OpenPGP message format shown next to recipients. */
export function formatExplanation(format: string): string {
  switch (format) {
    case "SEIPDv1":
      return "Readable by every OpenPGP tool, including GnuPG.";
    case "SEIPDv2":
      return "Authenticated encryption that only recent OpenPGP tools open (not GnuPG 2.2).";
    default:
      return format;
  }
}

/** The message format in plain words (the technical name goes in the folded details). */
export function formatName(format: string): string {
  switch (format) {
    case "SEIPDv1":
      return "Standard OpenPGP";
    case "SEIPDv2":
      return "Modern OpenPGP";
    default:
      return format;
  }
}

/** Strips a `mailto:` prefix for display. */
export function displayContact(contact: string): string {
  return contact.startsWith("mailto:") ? contact.slice("mailto:".length) : contact;
}

const SOURCE_NAMES: Record<string, string> = {
  "security.txt": "the team's security.txt",
  wkd: "WKD (the team's own domain)",
  vks: "keys.openpgp.org",
  proton: "Proton's key server",
};

/** Where a pinned key came from, in words ("pasted" → "pasted by you"). */
export function sourceLabel(source: string): string {
  if (source === "pasted") return "pasted by you";
  if (SOURCE_NAMES[source] !== undefined) return SOURCE_NAMES[source];
  if (source.startsWith("file:")) return `the file ${source.slice(5)}`;
  if (source === "discovery") return "discovery";
  if (source.startsWith("discovery:")) {
    const names = source
      .slice("discovery:".length)
      .split("+")
      .filter((n) => n !== "")
      .map((n) => SOURCE_NAMES[n] ?? n);
    return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : (names[0] ?? "discovery");
  }
  return source;
}

/** An RFC 3339 time in the user's locale and time zone ("6 Dec 2026, 14:03"); unparseable
 * values are shown as given. */
export function localDateTime(value: string | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
