import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Class } from "../bindings/Class";
import type { DraftStatus } from "../bindings/DraftStatus";
import type { ReportDraft } from "./draft";
import {
  addAsset,
  assetRows,
  DraftSync,
  emptyDraft,
  mergeReturnedDraft,
  outOfScopeFor,
  removeAsset,
  setAsset,
  setAttestation,
  setClass,
  setCreditHandle,
  setCreditKind,
  setCreditName,
  setCvss,
  setCwe,
  setProgram,
  setScopeConfirmation,
  setSeverity,
  setTitle,
  toWire,
} from "./draft";

const classes: Class[] = [
  { id: "xss", name: "Cross-site scripting", cwe: "CWE-79" },
  { id: "clickjacking", name: "Clickjacking", cwe: "CWE-1021" },
  { id: "csrf", name: "Cross-site request forgery", cwe: "CWE-352" },
  { id: "other", name: "Other", cwe: null },
];

const base = (): ReportDraft => ({ ...emptyDraft(), program: "novu" });

describe("scope confirmations and attestations", () => {
  it("adds and removes a scope confirmation without duplicates", () => {
    let d = setClass(base(), "clickjacking", classes);
    d = setScopeConfirmation(d, "clickjacking", true);
    d = setScopeConfirmation(d, "clickjacking", true);
    expect(d.scope_confirmations).toEqual(["clickjacking"]);
    d = setScopeConfirmation(d, "clickjacking", false);
    expect(d.scope_confirmations).toEqual([]);
  });

  it("drops confirmations of other classes when the class changes", () => {
    let d = setClass(base(), "clickjacking", classes);
    d = setScopeConfirmation(d, "clickjacking", true);
    expect(setClass(d, "xss", classes).scope_confirmations).toEqual([]);
    expect(setClass(d, "clickjacking", classes).scope_confirmations).toEqual(["clickjacking"]);
  });

  it("toggles attestations independently and keeps their order", () => {
    let d = base();
    d = setAttestation(d, "no-exploitation", true);
    d = setAttestation(d, "no-automated-scanning", true);
    d = setAttestation(d, "no-exploitation", true);
    expect(d.attestations).toEqual(["no-automated-scanning", "no-exploitation"]);
    d = setAttestation(d, "no-automated-scanning", false);
    expect(d.attestations).toEqual(["no-exploitation"]);
  });

  it("forgets attestations and confirmations when the program changes", () => {
    let d = setAttestation(base(), "no-exploitation", true);
    d = setScopeConfirmation(d, "csrf", true);
    const same = setProgram(d, "novu");
    expect(same).toBe(d);
    const other = setProgram(d, "acme");
    expect(other.program).toBe("acme");
    expect(other.attestations).toEqual([]);
    expect(other.scope_confirmations).toEqual([]);
  });

  it("never mutates the draft it was given", () => {
    const d = base();
    const frozen = JSON.stringify(d);
    setAttestation(d, "x", true);
    setScopeConfirmation(d, "csrf", true);
    addAsset(d);
    setTitle(d, "t");
    expect(JSON.stringify(d)).toBe(frozen);
  });
});

describe("class and CWE", () => {
  it("fills the class's CWE when none was typed", () => {
    expect(setClass(base(), "xss", classes).cwe).toBe("CWE-79");
  });

  it("follows the class while the CWE is still the suggestion", () => {
    const d = setClass(setClass(base(), "xss", classes), "csrf", classes);
    expect(d.cwe).toBe("CWE-352");
    expect(setClass(d, "other", classes).cwe).toBeNull();
  });

  it("keeps a CWE the researcher typed", () => {
    const d = setCwe(setClass(base(), "xss", classes), "CWE-80");
    expect(setClass(d, "csrf", classes).cwe).toBe("CWE-80");
  });

  it("stores an empty CWE as null", () => {
    expect(setCwe(base(), "  ").cwe).toBeNull();
    expect(setCwe(base(), "CWE-79").cwe).toBe("CWE-79");
  });

  it("finds the out-of-scope entry of the class", () => {
    const oos = [
      { class: "clickjacking", className: "Clickjacking", wording: "w", condition: "c" },
      { class: "dos", className: "Denial of service", wording: "w2", condition: null },
    ];
    expect(outOfScopeFor("clickjacking", oos)?.condition).toBe("c");
    expect(outOfScopeFor("xss", oos)).toBeNull();
    expect(outOfScopeFor("", oos)).toBeNull();
    expect(outOfScopeFor("dos", undefined)).toBeNull();
  });
});

describe("assets", () => {
  it("shows one empty row when there are none", () => {
    expect(assetRows(base())).toEqual([""]);
    expect(assetRows({ ...base(), assets: ["a"] })).toEqual(["a"]);
  });

  it("typing into the empty row creates the first asset", () => {
    expect(setAsset(base(), 0, "https://x.example").assets).toEqual(["https://x.example"]);
  });

  it("adds, edits and removes rows", () => {
    let d = setAsset(base(), 0, "a");
    d = addAsset(d);
    d = setAsset(d, 1, "b");
    d = addAsset(d);
    d = setAsset(d, 2, "c");
    expect(d.assets).toEqual(["a", "b", "c"]);
    d = removeAsset(d, 1);
    expect(d.assets).toEqual(["a", "c"]);
  });

  it("ignores out-of-range indexes", () => {
    const d = setAsset(base(), 0, "a");
    expect(setAsset(d, 5, "x")).toBe(d);
    expect(setAsset(d, -1, "x")).toBe(d);
    expect(removeAsset(d, 3)).toBe(d);
  });
});

describe("CVSS, severity and credit", () => {
  it("stores the vector trimmed, or null", () => {
    expect(setCvss(base(), " CVSS:3.1/AV:N ").cvss).toBe("CVSS:3.1/AV:N");
    expect(setCvss(base(), "").cvss).toBeNull();
  });

  it("maps 'derive from CVSS' to null", () => {
    expect(setSeverity(base(), "").severity).toBeNull();
    expect(setSeverity(base(), null).severity).toBeNull();
    expect(setSeverity(base(), "high").severity).toBe("high");
  });

  it("switches credit between named and anonymous", () => {
    let d = setCreditKind(base(), "named");
    expect(d.credit).toEqual({ name: "", handle: null });
    d = setCreditName(d, "Ada");
    d = setCreditHandle(d, "@ada");
    expect(d.credit).toEqual({ name: "Ada", handle: "@ada" });
    expect(setCreditKind(d, "named")).toBe(d);
    const anon = setCreditKind(d, "anonymous");
    expect(anon.credit).toEqual("anonymous");
    expect(setCreditKind(anon, "named", { name: "Ada", handle: "@ada" }).credit).toEqual({
      name: "Ada",
      handle: "@ada",
    });
    expect(setCreditHandle(d, " ").credit).toEqual({ name: "Ada", handle: null });
  });
});

describe("toWire", () => {
  it("leaves out empty asset rows and trims one-line fields", () => {
    const d: ReportDraft = {
      ...base(),
      title: "  XSS in inbox ",
      assets: ["", " https://a.example ", "  "],
      cwe: " CWE-79",
      cvss: " ",
      credit: { name: " Ada ", handle: " " },
      body: "  keep\n",
    };
    const w = toWire(d);
    expect(w.title).toBe("XSS in inbox");
    expect(w.assets).toEqual(["https://a.example"]);
    expect(w.cwe).toBe("CWE-79");
    expect(w.cvss).toBeNull();
    expect(w.credit).toEqual({ name: "Ada", handle: null });
    expect(w.body).toBe("  keep\n");
  });

  it("keeps the local draft's rows when the answer comes back without them", () => {
    const local: ReportDraft = { ...base(), assets: ["https://a.example", ""] };
    expect(mergeReturnedDraft(local, toWire(local)).assets).toEqual(["https://a.example", ""]);
  });
});

describe("mergeReturnedDraft", () => {
  it("keeps what is being typed when the backend only normalised it", () => {
    const local: ReportDraft = { ...base(), title: "XSS in ", assets: ["https://a.example", ""], cwe: "CWE-79 " };
    const returned: ReportDraft = { ...base(), title: "XSS in", assets: ["https://a.example"], cwe: "CWE-79" };
    const merged = mergeReturnedDraft(local, returned);
    expect(merged.title).toBe("XSS in ");
    expect(merged.assets).toEqual(["https://a.example", ""]);
    expect(merged.cwe).toBe("CWE-79 ");
  });

  it("does not care about the order of an object's keys", () => {
    const local: ReportDraft = { ...base(), credit: { name: "Ada ", handle: null } };
    const returned = { ...base(), credit: { handle: null, name: "Ada" } } as ReportDraft;
    expect(mergeReturnedDraft(local, returned).credit).toBe(local.credit);
  });

  it("takes the backend's word for real differences", () => {
    const local: ReportDraft = { ...base(), severity: "high", attestations: ["x"] };
    const returned: ReportDraft = { ...base(), severity: null, attestations: [] };
    const merged = mergeReturnedDraft(local, returned);
    expect(merged.severity).toBeNull();
    expect(merged.attestations).toEqual([]);
  });
});

describe("DraftSync", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const status = (draft: ReportDraft): DraftStatus => ({
    draft,
    findings: [],
    cvss: null,
    severity: null,
    readyToSeal: false,
    sealableAnyway: false,
  });

  it("sends one update per pause in typing, with the latest draft", async () => {
    const send = vi.fn(async (d: ReportDraft) => status(d));
    const onStatus = vi.fn();
    const sync = new DraftSync({ send, onStatus, onError: vi.fn() });
    sync.edit(setTitle(base(), "a"));
    sync.edit(setTitle(base(), "ab"));
    vi.advanceTimersByTime(150);
    sync.edit(setTitle(base(), "abc"));
    vi.advanceTimersByTime(199);
    expect(send).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0][0].title).toBe("abc");
    await vi.runAllTimersAsync();
    expect(onStatus).toHaveBeenCalledWith(expect.objectContaining({ readyToSeal: false }), true);
  });

  it("marks an answer stale when the draft was edited while it was in flight", async () => {
    let resolve: (s: DraftStatus) => void = () => {};
    const send = vi.fn(() => new Promise<DraftStatus>((r) => (resolve = r)));
    const onStatus = vi.fn();
    const sync = new DraftSync({ send, onStatus, onError: vi.fn() });
    sync.edit(setTitle(base(), "a"));
    vi.advanceTimersByTime(200);
    sync.edit(setTitle(base(), "ab"));
    resolve(status(setTitle(base(), "a")));
    await Promise.resolve();
    await Promise.resolve();
    expect(onStatus).toHaveBeenCalledWith(expect.anything(), false);
  });

  it("flush sends at once and waits for the answer", async () => {
    const send = vi.fn(async (d: ReportDraft) => status(d));
    const onStatus = vi.fn();
    const sync = new DraftSync({ send, onStatus, onError: vi.fn() });
    sync.edit(setAttestation(base(), "no-exploitation", true));
    expect(sync.pending()).toBe(true);
    await sync.flush();
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0][0].attestations).toEqual(["no-exploitation"]);
    expect(onStatus).toHaveBeenCalledTimes(1);
    expect(sync.pending()).toBe(false);
  });

  it("reports rejections", async () => {
    const err = { code: "internal", message: "boom", hint: null };
    const onError = vi.fn();
    const sync = new DraftSync({ send: () => Promise.reject(err), onStatus: vi.fn(), onError });
    sync.edit(base());
    await sync.flush();
    expect(onError).toHaveBeenCalledWith(err);
  });
});
