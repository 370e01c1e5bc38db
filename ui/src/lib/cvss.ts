// CVSS base-metric vectors for versions 3.1 and 4.0: the calculator's metric definitions,
// composing a vector from chosen values and parsing a vector back into them.
// Scoring is the backend's job (`cvss_score`); this module only handles the notation.

export type CvssVersion = "3.1" | "4.0";

export interface MetricValue {
  value: string;
  label: string;
}

export interface MetricDef {
  key: string;
  name: string;
  values: MetricValue[];
}

const impact: MetricValue[] = [
  { value: "H", label: "High" },
  { value: "L", label: "Low" },
  { value: "N", label: "None" },
];

export const METRICS: Record<CvssVersion, MetricDef[]> = {
  "3.1": [
    {
      key: "AV",
      name: "Attack Vector",
      values: [
        { value: "N", label: "Network" },
        { value: "A", label: "Adjacent" },
        { value: "L", label: "Local" },
        { value: "P", label: "Physical" },
      ],
    },
    {
      key: "AC",
      name: "Attack Complexity",
      values: [
        { value: "L", label: "Low" },
        { value: "H", label: "High" },
      ],
    },
    {
      key: "PR",
      name: "Privileges Required",
      values: [
        { value: "N", label: "None" },
        { value: "L", label: "Low" },
        { value: "H", label: "High" },
      ],
    },
    {
      key: "UI",
      name: "User Interaction",
      values: [
        { value: "N", label: "None" },
        { value: "R", label: "Required" },
      ],
    },
    {
      key: "S",
      name: "Scope",
      values: [
        { value: "U", label: "Unchanged" },
        { value: "C", label: "Changed" },
      ],
    },
    { key: "C", name: "Confidentiality", values: impact },
    { key: "I", name: "Integrity", values: impact },
    { key: "A", name: "Availability", values: impact },
  ],
  "4.0": [
    {
      key: "AV",
      name: "Attack Vector",
      values: [
        { value: "N", label: "Network" },
        { value: "A", label: "Adjacent" },
        { value: "L", label: "Local" },
        { value: "P", label: "Physical" },
      ],
    },
    {
      key: "AC",
      name: "Attack Complexity",
      values: [
        { value: "L", label: "Low" },
        { value: "H", label: "High" },
      ],
    },
    {
      key: "AT",
      name: "Attack Requirements",
      values: [
        { value: "N", label: "None" },
        { value: "P", label: "Present" },
      ],
    },
    {
      key: "PR",
      name: "Privileges Required",
      values: [
        { value: "N", label: "None" },
        { value: "L", label: "Low" },
        { value: "H", label: "High" },
      ],
    },
    {
      key: "UI",
      name: "User Interaction",
      values: [
        { value: "N", label: "None" },
        { value: "P", label: "Passive" },
        { value: "A", label: "Active" },
      ],
    },
    { key: "VC", name: "Vulnerable System Confidentiality", values: impact },
    { key: "VI", name: "Vulnerable System Integrity", values: impact },
    { key: "VA", name: "Vulnerable System Availability", values: impact },
    { key: "SC", name: "Subsequent System Confidentiality", values: impact },
    { key: "SI", name: "Subsequent System Integrity", values: impact },
    { key: "SA", name: "Subsequent System Availability", values: impact },
  ],
};

export const VERSIONS: CvssVersion[] = ["3.1", "4.0"];

/** Chosen base-metric values by metric key; `""` or a missing key means "not chosen yet". */
export type MetricChoice = Record<string, string>;

/** A parsed vector: its version, base metrics, and any further (temporal, environmental,
 * supplemental) metrics kept verbatim and in order so a round trip loses nothing. */
export interface CvssVector {
  version: CvssVersion;
  base: MetricChoice;
  extra: [string, string][];
}

export type ParseResult = { ok: true; vector: CvssVector } | { ok: false; error: string };

export function prefix(version: CvssVersion): string {
  return `CVSS:${version}/`;
}

/** Base metric keys that have no value chosen yet, in the specification's order. */
export function missingMetrics(version: CvssVersion, base: MetricChoice): string[] {
  return METRICS[version].filter((m) => !base[m.key]).map((m) => m.key);
}

/** Composes the vector string. Metrics not chosen yet are left out (the result is then
 * incomplete; see `missingMetrics`). Extra metrics follow the base ones. */
export function composeVector(vector: CvssVector): string {
  const parts: string[] = [];
  for (const m of METRICS[vector.version]) {
    const v = vector.base[m.key];
    if (v) parts.push(`${m.key}:${v}`);
  }
  for (const [k, v] of vector.extra) parts.push(`${k}:${v}`);
  return `CVSS:${vector.version}/${parts.join("/")}`;
}

/** Parses a CVSS 3.1 or 4.0 vector. Every base metric must be present exactly once with a
 * value the specification allows; other metrics must be well-formed `KEY:VALUE` pairs and unique. */
export function parseVector(input: string): ParseResult {
  const text = input.trim();
  if (text === "") return { ok: false, error: "The vector is empty." };
  const match = /^CVSS:(\d+\.\d+)\/(.*)$/.exec(text);
  if (!match) {
    return { ok: false, error: "A vector starts with CVSS:3.1/ or CVSS:4.0/." };
  }
  const versionText = match[1];
  if (versionText !== "3.1" && versionText !== "4.0") {
    return {
      ok: false,
      error: `CVSS ${versionText} is not supported by the calculator; use 3.1 or 4.0.`,
    };
  }
  const version: CvssVersion = versionText;
  const defs = METRICS[version];
  const body = match[2];
  if (body === "") return { ok: false, error: "The vector has no metrics." };
  const base: MetricChoice = {};
  const extra: [string, string][] = [];
  const seen = new Set<string>();
  for (const part of body.split("/")) {
    const kv = /^([A-Za-z]+):([A-Za-z]+)$/.exec(part);
    if (!kv) {
      return { ok: false, error: `“${part}” is not a metric (expected KEY:VALUE).` };
    }
    const [, key, value] = kv;
    if (seen.has(key)) return { ok: false, error: `Metric ${key} appears twice.` };
    seen.add(key);
    const def = defs.find((d) => d.key === key);
    if (def) {
      if (!def.values.some((v) => v.value === value)) {
        const allowed = def.values.map((v) => v.value).join(", ");
        return { ok: false, error: `${key}:${value} is not valid; ${key} takes one of ${allowed}.` };
      }
      if (extra.length > 0) {
        return { ok: false, error: `Base metric ${key} must come before the other metrics.` };
      }
      base[key] = value;
    } else {
      extra.push([key, value]);
    }
  }
  const missing = missingMetrics(version, base);
  if (missing.length > 0) {
    return { ok: false, error: `Missing base metric${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}.` };
  }
  return { ok: true, vector: { version, base, extra } };
}

/** Carries the metrics that mean the same thing across a version switch
 * (AV, AC, PR, and the three impacts of the vulnerable system); the rest start unchosen. */
export function switchVersion(vector: CvssVector, to: CvssVersion): CvssVector {
  if (vector.version === to) return vector;
  const base: MetricChoice = {};
  const carry = (fromKey: string, toKey: string) => {
    const v = vector.base[fromKey];
    const def = METRICS[to].find((d) => d.key === toKey);
    if (v && def && def.values.some((x) => x.value === v)) base[toKey] = v;
  };
  carry("AV", "AV");
  carry("AC", "AC");
  carry("PR", "PR");
  if (to === "4.0") {
    carry("C", "VC");
    carry("I", "VI");
    carry("A", "VA");
    if (vector.base["UI"] === "N") base["UI"] = "N";
  } else {
    carry("VC", "C");
    carry("VI", "I");
    carry("VA", "A");
    if (vector.base["UI"] === "N") base["UI"] = "N";
  }
  return { version: to, base, extra: [] };
}

export function emptyVector(version: CvssVersion): CvssVector {
  return { version, base: {}, extra: [] };
}

/** Whether all base metrics are chosen. */
export function isComplete(vector: CvssVector): boolean {
  return missingMetrics(vector.version, vector.base).length === 0;
}
