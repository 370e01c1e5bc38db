// @vitest-environment jsdom
// Mounts the whole app against an in-memory fake of the backend (ipc.ts mocked) and drives it
// the way the WebDriver test will, through the data-testid hooks.
import { flushSync, mount, unmount } from "svelte";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AttachmentView } from "./bindings/AttachmentView";
import type { DraftStatus } from "./bindings/DraftStatus";
import type { Finding } from "./bindings/Finding";
import type { KeyInfo } from "./bindings/KeyInfo";
import type { ProgramView } from "./bindings/ProgramView";
import type { Report } from "./bindings/Report";

const backend = vi.hoisted(() => {
  const FP = "0123456789ABCDEF0123456789ABCDEF01234567";
  const key = {
    fingerprint: FP,
    fingerprint_grouped: "0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567",
    user_ids: ["Novu Security <security@novu.co>"],
    algorithm: "EdDSA/ECDH (Curve25519)",
    encryption_subkeys: ["89ABCDEF01234567"],
    created: "2024-01-02T03:04:05Z",
    expires: null,
    version: 4,
    format: "SEIPDv1" as const,
    problem: null,
  };
  const state = {
    identity: false,
    calls: [] as [string, unknown][],
    attachmentListeners: [] as ((l: unknown) => void)[],
    closeListeners: [] as (() => void)[],
    attachments: [] as AttachmentView[],
    pinned: false,
    draft: {
      schema: 1,
      program: "novu",
      title: "",
      assets: [] as string[],
      class: "",
      cwe: null as string | null,
      cvss: null as string | null,
      severity: null as string | null,
      credit: null as unknown,
      attestations: [] as string[],
      scope_confirmations: [] as string[],
      reference: "EMB-7K2Q-9XDA",
      body: "",
    },
  };
  return { FP, key, state };
});

function program(): ProgramView {
  return {
    program: {
      id: "novu",
      name: "Novu",
      contacts: ["mailto:security@novu.co"],
      policy_url: "https://github.com/novuhq/novu/blob/next/SECURITY.md",
      intake_url: null,
      schema: 2,
      team_keys: backend.state.pinned ? [{ fingerprint: backend.FP, source: "pasted", confirmed_at: null }] : [],
      domain: null,
      candidates: [],
      key_alarm: null,
      in_scope: ["Any security issues that might put at risk the confidentiality, integrity, or accessibility of our systems or data."],
      reporting: "Please share enough details.",
      out_of_scope: [
        {
          class: "clickjacking",
          wording: "Clickjacking on pages with no sensitive actions.",
          condition: "The affected page has sensitive actions (clickjacking there is in scope).",
        },
        { class: "dos", wording: "Any activity that could lead to the disruption of our service (DoS).", condition: null },
      ],
      attestations: [
        { id: "no-exploitation", wording: "Please do not exploit the vulnerability." },
        { id: "confidential-until-fixed", wording: "Please keep the issue confidential until we've fixed it." },
      ],
      response: { business_days: 3, wording: "We'll get back to you within 3 business days." },
      credit: { default: "credited", wording: "We'll credit you as the discoverer of the issue." },
      promises: [{ wording: "We will not take any legal action against you." }],
    },
    email: "security@novu.co",
    builtin: true,
    trust: backend.state.pinned ? "pinned" : "no_key",
    teamKey: backend.state.pinned ? (backend.key as KeyInfo) : null,
    offered: [],
    discoveryDomain: "novu.co",
  };
}

function status(): DraftStatus {
  const d = backend.state.draft as Report;
  const findings: Finding[] = [];
  if (d.title.trim() === "")
    findings.push({ code: "missing_title", field: "title", line: null, message: "missing title", hint: "one line saying what is broken where" });
  if (d.body.trim() === "") findings.push({ code: "no_description", field: "body", line: null, message: "the report has no description", hint: null });
  findings.push({ code: "missing_schema", field: "schema", line: 1, message: "missing `schema = 1`", hint: null });
  // The fake's schema finding is a policy-level one here: with a key and a title, "Seal anyway"
  // is offered.
  const sealableAnyway = backend.state.pinned && d.title.trim() !== "";
  return { draft: structuredClone(d), findings, cvss: null, severity: null, readyToSeal: false, sealableAnyway };
}

const settings = (theme: string) => ({
  settings: { theme },
  dataDir: "/home/me/.local/share/embargo",
  version: "0.1.0",
  tauriVersion: "2.9.0",
  sequoiaVersion: "2.4.0",
  licenses: ["GPL-3.0-or-later"],
});

vi.mock("./ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("./ipc")>();
  const { state, key } = backend;
  const log = (name: string, args?: unknown) => state.calls.push([name, args]);
  const vault = () => ({
    identity: state.identity ? { ...key, user_ids: ["Ada <ada@example.org>"] } : null,
    unlocked: state.identity,
    drafts: [],
    titles: {},
    broken: [],
    current: state.identity ? "d-0000000000000001" : null,
    savedAt: state.identity ? "2026-12-01T18:00:00Z" : null,
    dirty: false,
    recovered: false,
    autoLockMinutes: 10,
    dir: "/tmp/embargo/vault",
  });
  const emitAttachments = () => state.attachmentListeners.forEach((l) => l(structuredClone(state.attachments)));
  return {
    isCommandError: real.isCommandError,
    errorText: real.errorText,
    errorCode: real.errorCode,
    newOperation: real.newOperation,
    listPrograms: async () => ({ programs: [program()], broken: [] }),
    getProgram: async (id: string) => (log("get_program", { id }), program()),
    addProgram: async () => program(),
    inspectTeamKey: async (programId: string, armored: string) => {
      log("inspect_team_key", { programId, armored });
      return { key, sources: ["pasted"], agreed: false, pinned: null, differs_from_pinned: false };
    },
    chooseTeamKeyFile: async () => null,
    confirmTeamKey: async (programId: string, candidate: string, typedFingerprint: string, replace: boolean) => {
      log("confirm_team_key", { programId, candidate, typedFingerprint, replace });
      state.pinned = true;
      return program();
    },
    listClasses: async () => [
      { id: "xss", name: "Cross-site scripting", cwe: "CWE-79" },
      { id: "clickjacking", name: "Clickjacking", cwe: "CWE-1021" },
      { id: "dos", name: "Denial of service", cwe: "CWE-400" },
    ],
    getDraft: async () => status(),
    updateDraft: async (draft: Report) => {
      log("update_draft", { draft });
      state.draft = structuredClone(draft) as typeof state.draft;
      return status();
    },
    cvssScore: async (vector: string) => (log("cvss_score", { vector }), { version: "3.1", score: 9.8, severity: "critical" }),
    renderMarkdown: async (markdown: string) => `<p>${markdown.replace(/[<>&]/g, "")}</p>`,
    chooseAttachments: async () => {
      state.attachments.push({
        id: state.attachments.length + 1,
        meta: { name: "poc.txt", size: 2048, content_type: "text/plain", sha256: "00" },
        keepMetadata: false,
        removed: [],
        originalSha256: null,
        warning: null,
      });
      state.attachments.push({
        id: state.attachments.length + 1,
        meta: { name: "shot.jpg", size: 4096, content_type: "image/jpeg", sha256: "11" },
        keepMetadata: false,
        removed: ["EXIF: GPS position, camera model"],
        originalSha256: "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899",
        warning: null,
      });
      emitAttachments();
      return structuredClone(state.attachments);
    },
    addDropped: async () => structuredClone(state.attachments),
    removeAttachment: async (id: number) => {
      state.attachments = state.attachments.filter((a) => a.id !== id);
      emitAttachments();
      return structuredClone(state.attachments);
    },
    listAttachments: async () => structuredClone(state.attachments),
    chooseSigningKey: async () => ({ key: { ...key, fingerprint: "AAAA" }, protected: true }),
    clearSigningKey: async () => null,
    previewSeal: async (sign: boolean) => ({
      text: "Title: x\n\nBody",
      bodyHtml: "<p>Body</p>",
      recipients: [key],
      format: "SEIPDv1",
      signing:
        state.draft.credit === "anonymous" || state.draft.credit === null
          ? { by: "nobody", key: null, unsignedBecause: "anonymous", needsUnlock: false, needsPassphrase: false }
          : sign && state.identity
            ? { by: "identity", key: { ...key, user_ids: ["Ada <ada@example.org>"] }, unsignedBecause: null, needsUnlock: false, needsPassphrase: false }
            : { by: "nobody", key: null, unsignedBecause: sign ? "no_identity" : "turned_off", needsUnlock: false, needsPassphrase: false },
      keyFile: null,
      anonymous: state.draft.credit === "anonymous",
      attachments: structuredClone(state.attachments),
      subject: "Security report",
      to: "security@novu.co",
      reference: "EMB-7K2Q-9XDA",
      delivery: { armoredBytes: 4000, copy: true, mailto: false },
    }),
    exportReport: async () => ({
      path: "/tmp/report.eml",
      format: "SEIPDv1",
      recipients: [key.fingerprint],
      signer: null,
      bytes: 4096,
      reference: "EMB-7K2Q-9XDA",
      sendIt: {
        to: "security@novu.co",
        subject: "Encrypted vulnerability report EMB-7K2Q-9XDA",
        file: "/tmp/report.eml",
        bytes: 4096,
        way: { how: "open_eml" },
        copyable: false,
      },
    }),
    openExport: async () => (log("open_export"), "/tmp/report.eml"),
    armoredReport: async () => "-----BEGIN PGP MESSAGE-----",
    openMailClient: async () => ({ opened: null, tooLarge: true, noAddress: false }),
    listSent: async () => ({
      receipts: [
        {
          receipt: "R0000000000000000000000001",
          status_token: "t",
          intake_url: "https://intake.novu.co/",
          program: "novu",
          reference: "EMB-7K2Q-9XDA",
          received_at: "2026-12-03T15:00:00Z",
        },
      ],
      pending: [
        {
          id: "abc",
          idempotency_key: "k",
          intake_url: "https://intake.novu.co/",
          program: "novu",
          reference: "EMB-AAAA-BBBB",
          created_at: "2026-12-06T10:00:00Z",
          bytes: 10,
          attempts: 2,
          last_error: "cannot reach https://intake.novu.co/: connection refused",
          rounds: 0,
          refused: false,
        },
      ],
      outbox: { waiting: 1, refused: 0, next_attempt_at: "2026-12-06T10:00:10Z" },
      exports: [],
      broken: [],
    }),
    followUpReport: async (receipt: string) => ({
      receipt,
      status: "triaged",
      status_words: "being looked at by the team",
      received_at: "2026-12-03T15:00:00Z",
      updated_at: "2026-12-04T09:00:00Z",
      answer_due: { business_days: 3, due_at: "2026-12-08T15:00:00Z", days_left: 2, overdue: false },
      replies: [
        { id: 1, created_at: "2026-12-04T09:00:00Z", text: "Thanks, reproduced.", signer: { kind: "verified", fingerprint: "F", user_id: "Novu Security", pinned: true }, unreadable: null },
        { id: 2, created_at: "2026-12-04T10:00:00Z", text: "Send your password.", signer: { kind: "unknown_key", issuer: "BAD0" }, unreadable: null },
      ],
    }),
    retryOutboxNow: async () => (log("retry_outbox_now"), { receipts: [], pending: [], outbox: { waiting: 0, refused: 0, next_attempt_at: null }, exports: [], broken: [] }),
    cancelSeal: async () => true,
    getSettings: async () => settings("system"),
    setTheme: async (theme: string) => (log("set_theme", { theme }), settings(theme)),
    vaultStatus: async () => vault(),
    autosave: async () => (log("autosave"), vault()),
    createIdentity: async (name: string, email: string, passphrase: string) => {
      log("create_identity", { name, email, passphrase });
      state.identity = true;
      return vault();
    },
    onAttachmentsChanged: async (handler: (l: AttachmentView[]) => void) => {
      state.attachmentListeners.push(handler as (l: unknown) => void);
      return () => {};
    },
    onSealProgress: async () => () => {},
    onSealFinished: async () => () => {},
    onOutboxChanged: async (handler: (o: unknown) => void) => {
      setTimeout(() => handler({ waiting: 1, refused: 0, nextAttemptAt: null, locked: false }), 0);
      return () => {};
    },
    onCloseRequested: async (handler: () => void) => {
      state.closeListeners.push(handler);
      return () => {};
    },
    closeDiscarding: async () => {
      log("close_discarding");
    },
    onFilesDropped: async () => () => {},
    onFileDrag: async () => () => {},
    copyText: async () => {},
  };
});

import App from "./App.svelte";

const byId = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`);

async function settle(ms = 0) {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, ms));
    flushSync();
  }
}

async function waitFor<T>(fn: () => T | null | undefined | false, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = fn();
    if (v) return v;
    await settle(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function type(el: HTMLElement | null, value: string) {
  const input = el as HTMLInputElement;
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  flushSync();
}

function change(el: HTMLElement | null, value?: string | boolean) {
  const input = el as HTMLInputElement;
  if (typeof value === "boolean") input.checked = value;
  else if (value !== undefined) input.value = value;
  input.dispatchEvent(new Event("change", { bubbles: true }));
  flushSync();
}

function click(el: HTMLElement | null) {
  (el as HTMLElement).click();
  flushSync();
}

// tauri.conf.json sets `freezePrototype`: the app must work with a frozen Object.prototype.
Object.freeze(Object.prototype);

let app: ReturnType<typeof mount>;

beforeAll(async () => {
  window.matchMedia ??= (() => ({ matches: false, addEventListener() {}, removeEventListener() {} })) as never;
  const target = document.createElement("div");
  document.body.append(target);
  app = mount(App, { target });
  await waitFor(() => byId("nav-programs"), "navigation");
});

afterAll(() => unmount(app));

describe("the app against a fake backend", () => {
  it("shows the five screens in the sidebar", () => {
    for (const id of ["nav-programs", "nav-report", "nav-review", "nav-sent", "nav-settings"]) {
      expect(byId(id)?.tagName).toBe("BUTTON");
    }
  });

  it("shows the program's policy and pins a team key once the published fingerprint is typed", async () => {
    click(await waitFor(() => byId("program-novu"), "program list"));
    await waitFor(() => byId("team-key-text"), "team key form");
    expect(document.body.textContent).toContain("Clickjacking on pages with no sensitive actions.");
    expect(document.body.textContent).toContain("The affected page has sensitive actions");
    expect(document.body.textContent).toContain("Please keep the issue confidential until we've fixed it.");

    type(byId("team-key-text"), "-----BEGIN PGP PUBLIC KEY BLOCK-----");
    click(byId("team-key-inspect"));
    const fp = await waitFor(() => byId("candidate-fingerprint"), "candidate");
    expect(fp.textContent?.replace(/\s+/g, " ").trim()).toBe("0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567");
    expect((byId("team-key-confirm") as HTMLButtonElement).disabled).toBe(true);
    type(byId("team-key-typed"), "0123 4567 89ab cdef 0123 4567 89ab cdef 0123 4567");
    expect((byId("team-key-confirm") as HTMLButtonElement).disabled).toBe(false);
    click(byId("team-key-confirm"));
    await waitFor(() => byId("pinned-fingerprint"), "pinned key");
    expect(backend.state.calls).toContainEqual([
      "confirm_team_key",
      { programId: "novu", candidate: backend.FP, typedFingerprint: "0123 4567 89ab cdef 0123 4567 89ab cdef 0123 4567", replace: false },
    ]);
  });

  it("sends edits with update_draft and shows findings beside their fields", async () => {
    click(byId("nav-report"));
    await waitFor(() => byId("title"), "report form");
    // A new draft does not nag: findings wait for a field to be left, or for "Check the report".
    expect(byId("finding-title")).toBeNull();
    expect(byId("findings-summary")).toBeNull();
    byId("title")!.dispatchEvent(new FocusEvent("focusout", { bubbles: true }));
    await waitFor(() => byId("finding-title"), "the title's finding once the field is left");
    expect(byId("findings-summary")).toBeNull();
    click(byId("check-report"));
    await waitFor(() => byId("finding-title"), "every finding after the check");
    expect(byId("finding-title")?.textContent).toContain("Missing title.");
    expect(byId("findings-summary")?.textContent).toContain("schema");

    type(byId("title"), "Stored XSS in the inbox");
    type(byId("asset-0"), "https://web.novu.co");
    await waitFor(() => backend.state.draft.title === "Stored XSS in the inbox", "update_draft");
    await waitFor(() => !byId("finding-title"), "title finding cleared");
    expect(backend.state.draft.assets).toEqual(["https://web.novu.co"]);

    click(byId("asset-add"));
    expect(byId("asset-1")).not.toBeNull();
  });

  it("warns about out-of-scope classes and toggles the scope confirmation", async () => {
    change(byId("class"), "clickjacking");
    const warning = await waitFor(() => byId("oos-warning"), "out-of-scope warning");
    expect(warning.textContent).toContain("Clickjacking on pages with no sensitive actions.");
    expect((byId("cwe") as HTMLInputElement).value).toBe("CWE-1021");
    change(byId("oos-confirm"), true);
    await waitFor(() => backend.state.draft.scope_confirmations.includes("clickjacking"), "confirmation sent");
    change(byId("oos-confirm"), false);
    await waitFor(() => backend.state.draft.scope_confirmations.length === 0, "confirmation removed");
    change(byId("class"), "xss");
    await waitFor(() => !byId("oos-warning"), "warning gone");
  });

  it("composes the CVSS vector from the selects and scores it", async () => {
    const fold = byId("cvss-fold")?.closest("details") as HTMLDetailsElement;
    expect(fold.open).toBe(false);
    click(byId("cvss-fold"));
    await waitFor(() => fold.open, "the optional CVSS unfolded");
    for (const [k, v] of [["AV", "N"], ["AC", "L"], ["PR", "N"], ["UI", "N"], ["S", "U"], ["C", "H"], ["I", "H"], ["A", "H"]]) {
      change(byId(`cvss-${k}`), v);
    }
    expect((byId("cvss-vector") as HTMLInputElement).value).toBe("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
    await waitFor(() => byId("cvss-score")?.textContent?.includes("9.8"), "score");
    expect(byId("cvss-score")?.textContent).toContain("Critical");
    type(byId("cvss-vector"), "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
    expect((byId("cvss-AV") as HTMLSelectElement).value).toBe("P");
    await waitFor(() => backend.state.draft.cvss === "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "vector sent");
  });

  it("previews the Markdown from the backend's HTML", async () => {
    type(byId("body"), "Steps to reproduce");
    await waitFor(() => byId("body-preview")?.innerHTML.includes("<p>Steps to reproduce</p>"), "preview");
  });

  it("updates the attachment table when the backend adds an attachment", async () => {
    click(byId("attachment-add"));
    const row = await waitFor(() => byId("attachment-poc.txt"), "attachment row");
    expect(row.textContent).toContain("2 KB");
    // What scrubbing removed is shown, with the original's hash and the opt-out.
    expect(byId("scrubbed-shot.jpg")?.textContent).toContain("GPS position");
    expect(byId("scrubbed-shot.jpg")?.textContent).toContain("aabbccddeeff0011");
    expect(byId("attachment-shot.jpg")?.textContent).toContain("Keep metadata");
    expect(byId("attachment-poc.txt")?.textContent).not.toContain("Keep metadata");
  });

  it("records credit and attestations", async () => {
    change(byId("credit-named"), true);
    type(await waitFor(() => byId("credit-name"), "credit name"), "Ada");
    change(byId("attest-no-exploitation"), true);
    await waitFor(
      () => backend.state.draft.attestations.includes("no-exploitation") && typeof backend.state.draft.credit === "object" && backend.state.draft.credit !== null,
      "credit and attestation sent",
    );
    change(byId("credit-anonymous"), true);
    expect(byId("credit-name")).toBeNull();
  });

  it("reviews the sealed text and keeps actions disabled until ready", async () => {
    click(byId("nav-review"));
    const text = await waitFor(() => byId("review-text"), "review text");
    expect(text.textContent).toBe("Title: x\n\nBody");
    expect(byId("review-format")?.textContent).toBe("Standard OpenPGP");
    expect(byId("review-format")?.getAttribute("data-format")).toBe("SEIPDv1");
    expect(byId("review-recipient")?.textContent?.replace(/\s+/g, " ").trim()).toBe("0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567");
    expect((byId("export-eml") as HTMLButtonElement).disabled).toBe(true);
    // Open findings: sealing needs the explicit "Seal anyway" that says what is open.
    const anyway = (await waitFor(() => byId("seal-anyway"), "seal anyway")) as HTMLInputElement;
    expect(anyway.closest("label")?.textContent).toContain("open");
    change(anyway, true);
    await waitFor(() => !(byId("export-eml") as HTMLButtonElement).disabled, "export enabled after Seal anyway");
    change(anyway, false);
    await waitFor(() => (byId("export-eml") as HTMLButtonElement).disabled, "disabled again");
    expect(document.body.textContent).toContain("Anonymous reports are not signed: a signature and your public key would identify you.");
    expect((byId("sign-toggle") as HTMLInputElement).disabled).toBe(true);
  });

  it("says how to send an export and opens it through the backend", async () => {
    const anyway = byId("seal-anyway") as HTMLInputElement;
    change(anyway, true);
    await waitFor(() => !(byId("export-eml") as HTMLButtonElement).disabled, "export enabled");
    click(byId("export-eml"));
    const panel = await waitFor(() => byId("send-it"), "Send it");
    expect(byId("send-it-to")?.textContent).toBe("security@novu.co");
    expect(byId("send-it-subject")?.textContent).toBe("Encrypted vulnerability report EMB-7K2Q-9XDA");
    expect(byId("send-it-steps")?.textContent).toContain("Open report.eml with your mail client");
    click(byId("send-it-open"));
    await waitFor(() => byId("send-it-opened"), "opened");
    expect(backend.state.calls.some(([n]) => n === "open_export")).toBe(true);
    expect(panel.textContent).toContain("exported, sent by you");
    change(anyway, false);
  });

  it("counts the outbox in the sidebar and follows replies on Sent, verified or not", async () => {
    await waitFor(() => byId("outbox-count")?.textContent?.startsWith("1"), "outbox count");
    click(byId("nav-sent"));
    const status = await waitFor(() => byId("status-R0000000000000000000000001"), "status");
    expect(status.textContent).toBe("being looked at by the team");
    expect(byId("due-R0000000000000000000000001")?.textContent).toContain("Answered in time");
    const replies = document.querySelectorAll("[data-testid^='reply-R0000000000000000000000001-']");
    expect(replies.length).toBe(2);
    const verdicts = Array.from(replies).map((r) => (r.querySelector("[data-testid='reply-signer']") as HTMLElement).dataset.verified);
    expect(verdicts).toEqual(["true", "false"]);
    expect(replies[1].textContent).toContain("none of the team's keys");
    expect(byId("pending-abc")?.textContent).toContain("connection refused");
    click(byId("outbox-try-now"));
    await waitFor(() => backend.state.calls.some(([n]) => n === "retry_outbox_now"), "try now");
  });

  it("applies the theme through data-theme", async () => {
    click(byId("nav-settings"));
    change(await waitFor(() => byId("theme"), "theme select"), "dark");
    await waitFor(() => backend.state.calls.some(([n]) => n === "set_theme"), "set_theme");
    await settle(10);
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect((byId("theme") as HTMLSelectElement).value).toBe("dark");
  });

  it("asks before closing with a draft that cannot be saved, focus on Keep writing", async () => {
    backend.state.closeListeners.forEach((l) => l());
    const dialog = await waitFor(() => byId("close-ask"), "the question");
    expect(dialog.getAttribute("role")).toBe("alertdialog");
    await waitFor(() => document.activeElement === byId("close-keep"), "focus on Keep writing");
    click(byId("close-keep"));
    await waitFor(() => !byId("close-ask"), "kept");
    expect(backend.state.calls.some(([n]) => n === "close_discarding")).toBe(false);
    backend.state.closeListeners.forEach((l) => l());
    click(await waitFor(() => byId("close-discard"), "asked again"));
    await waitFor(() => backend.state.calls.some(([n]) => n === "close_discarding"), "closed on purpose");
  });

  it("creates the identity from Settings and clears the passphrase fields", async () => {
    click(byId("nav-settings"));
    const name = (await waitFor(() => byId("identity-name"), "identity form")) as HTMLInputElement;
    expect(byId("sidebar-save")?.textContent).toContain("not saved");
    const p1 = byId("identity-pass1") as HTMLInputElement;
    const p2 = byId("identity-pass2") as HTMLInputElement;
    name.value = "Ada";
    name.dispatchEvent(new Event("input", { bubbles: true }));
    p1.value = "correct horse";
    p2.value = "correct hose";
    (byId("identity-create") as HTMLFormElement).requestSubmit();
    await waitFor(() => document.body.textContent?.includes("The two passphrases differ"), "mismatch refused");
    expect(backend.state.calls.some(([n]) => n === "create_identity")).toBe(false);
    expect(p1.value).toBe("");
    p1.value = "correct horse";
    p2.value = "correct horse";
    (byId("identity-create") as HTMLFormElement).requestSubmit();
    await waitFor(() => byId("identity-fingerprint"), "identity shown");
    const call = backend.state.calls.find(([n]) => n === "create_identity");
    expect(call?.[1]).toEqual({ name: "Ada", email: "", passphrase: "correct horse" });
    await waitFor(() => byId("sidebar-save")?.textContent?.includes("encrypted"), "saved, encrypted");
  });
});
