import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
const listen = vi.fn();
const onDragDropEvent = vi.fn();
const writeText = vi.fn();

vi.mock("@tauri-apps/api/core", () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock("@tauri-apps/api/event", () => ({ listen: (...a: unknown[]) => listen(...a) }));
vi.mock("@tauri-apps/api/webview", () => ({
  getCurrentWebview: () => ({ onDragDropEvent: (...a: unknown[]) => onDragDropEvent(...a) }),
}));
vi.mock("@tauri-apps/plugin-clipboard-manager", () => ({ writeText: (...a: unknown[]) => writeText(...a) }));

import * as ipc from "./ipc";
import { emptyDraft } from "./lib/draft";

beforeEach(() => {
  invoke.mockReset().mockResolvedValue(null);
  listen.mockReset().mockResolvedValue(() => {});
  onDragDropEvent.mockReset().mockResolvedValue(() => {});
  writeText.mockReset().mockResolvedValue(undefined);
});

describe("commands follow docs/ipc.md", () => {
  const draft = emptyDraft();
  const options = { sign: false, passphrase: null, op: 4 };
  const cases: [string, () => Promise<unknown>, string, Record<string, unknown> | undefined][] = [
    ["listPrograms", () => ipc.listPrograms(), "list_programs", undefined],
    ["getProgram", () => ipc.getProgram("novu"), "get_program", { id: "novu" }],
    ["addProgram", () => ipc.addProgram("Acme", "sec@acme.test", null), "add_program", { name: "Acme", contact: "sec@acme.test", intakeUrl: null }],
    ["inspectTeamKey", () => ipc.inspectTeamKey("novu", "-----BEGIN"), "inspect_team_key", { programId: "novu", armored: "-----BEGIN" }],
    ["chooseTeamKeyFile (dialog)", () => ipc.chooseTeamKeyFile("novu"), "choose_team_key_file", { programId: "novu", dropped: null }],
    ["chooseTeamKeyFile (dropped)", () => ipc.chooseTeamKeyFile("novu", 9), "choose_team_key_file", { programId: "novu", dropped: 9 }],
    ["confirmTeamKey", () => ipc.confirmTeamKey("novu", "ABCD", "abcd", false), "confirm_team_key", { programId: "novu", candidate: "ABCD", typedFingerprint: "abcd", replace: false }],
    ["listClasses", () => ipc.listClasses(), "list_classes", undefined],
    ["getDraft", () => ipc.getDraft(), "get_draft", undefined],
    ["updateDraft", () => ipc.updateDraft(draft), "update_draft", { draft }],
    ["cvssScore", () => ipc.cvssScore("CVSS:3.1/AV:N"), "cvss_score", { vector: "CVSS:3.1/AV:N" }],
    ["renderMarkdown", () => ipc.renderMarkdown("# x"), "render_markdown", { markdown: "# x" }],
    ["chooseAttachments", () => ipc.chooseAttachments(), "choose_attachments", undefined],
    ["addDropped", () => ipc.addDropped([1, 2]), "add_dropped", { tokens: [1, 2] }],
    ["removeAttachment", () => ipc.removeAttachment(3), "remove_attachment", { id: 3 }],
    ["listAttachments", () => ipc.listAttachments(), "list_attachments", undefined],
    ["chooseSigningKey", () => ipc.chooseSigningKey(), "choose_signing_key", undefined],
    ["clearSigningKey", () => ipc.clearSigningKey(), "clear_signing_key", undefined],
    ["previewSeal", () => ipc.previewSeal(true), "preview_seal", { sign: true }],
    ["openExport", () => ipc.openExport(), "open_export", undefined],
    ["discoverProgramKeys", () => ipc.discoverProgramKeys("novu"), "discover_program_keys", { programId: "novu" }],
    ["requestKey", () => ipc.requestKey("novu"), "request_key", { programId: "novu" }],
    ["openKeyRequest", () => ipc.openKeyRequest("novu"), "open_key_request", { programId: "novu" }],
    ["listSent", () => ipc.listSent(), "list_sent", undefined],
    ["followUpReport", () => ipc.followUpReport("R1"), "follow_up_report", { receipt: "R1" }],
    ["retryOutboxNow", () => ipc.retryOutboxNow(), "retry_outbox_now", undefined],
    ["setProxy", () => ipc.setProxy("socks5h://127.0.0.1:9050"), "set_proxy", { proxy: "socks5h://127.0.0.1:9050" }],
    ["setRetrySeconds", () => ipc.setRetrySeconds(30), "set_retry_seconds", { seconds: 30 }],
    ["exportReport", () => ipc.exportReport("eml", options), "export_report", { format: "eml", options }],
    ["armoredReport", () => ipc.armoredReport(options), "armored_report", { options }],
    ["openMailClient", () => ipc.openMailClient(options), "open_mail_client", { options }],
    ["cancelSeal", () => ipc.cancelSeal(4), "cancel_seal", { op: 4 }],
    ["getSettings", () => ipc.getSettings(), "get_settings", undefined],
    ["setTheme", () => ipc.setTheme("dark"), "set_theme", { theme: "dark" }],
  ];

  it.each(cases)("%s invokes its command with camelCase arguments", async (_name, call, command, args) => {
    await call();
    expect(invoke).toHaveBeenCalledTimes(1);
    if (args === undefined) {
      expect(invoke.mock.calls[0]).toEqual([command]);
    } else {
      expect(invoke.mock.calls[0]).toEqual([command, args]);
    }
  });

  it("passes rejections through untouched", async () => {
    const err = { code: "no_team_key", message: "no key", hint: "confirm one" };
    invoke.mockRejectedValueOnce(err);
    await expect(ipc.previewSeal(false)).rejects.toBe(err);
  });
});

describe("events", () => {
  it("subscribes to the five backend events and unwraps their payloads", async () => {
    const got: unknown[] = [];
    await ipc.onAttachmentsChanged((l) => got.push(l));
    await ipc.onSealProgress((p) => got.push(p));
    await ipc.onSealFinished((r) => got.push(r));
    await ipc.onFilesDropped((f) => got.push(f));
    await ipc.onOutboxChanged((o) => got.push(o));
    expect(listen.mock.calls.map((c) => c[0])).toEqual([
      "attachments-changed",
      "seal-progress",
      "seal-finished",
      "files-dropped",
      "outbox-changed",
    ]);
    for (const [i, c] of listen.mock.calls.entries()) (c[1] as (e: { payload: unknown }) => void)({ payload: i });
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it("reports dragged files by name only: paths never reach a command", async () => {
    const seen: unknown[] = [];
    await ipc.onFileDrag((d) => seen.push(d));
    const handler = onDragDropEvent.mock.calls[0][0] as (e: { payload: unknown }) => void;
    handler({ payload: { type: "enter", paths: ["/home/ada/a.asc"], position: { x: 0, y: 0 } } });
    handler({ payload: { type: "over", position: { x: 1, y: 1 } } });
    handler({ payload: { type: "drop", paths: ["/home/ada/a.asc"], position: { x: 1, y: 1 } } });
    handler({ payload: { type: "leave" } });
    expect(seen).toEqual([{ type: "enter", names: ["a.asc"] }, { type: "drop" }, { type: "leave" }]);
  });
});

describe("clipboard", () => {
  it("copies text", async () => {
    await ipc.copyText("-----BEGIN PGP MESSAGE-----");
    expect(writeText).toHaveBeenCalledWith("-----BEGIN PGP MESSAGE-----");
  });
});

describe("CommandError", () => {
  it("recognises command errors", () => {
    expect(ipc.isCommandError({ code: "io", message: "m", hint: null })).toBe(true);
    expect(ipc.isCommandError({ code: "io", message: "m", hint: "h" })).toBe(true);
    expect(ipc.isCommandError({ code: "io" })).toBe(false);
    expect(ipc.isCommandError("io")).toBe(false);
    expect(ipc.isCommandError(null)).toBe(false);
    expect(ipc.isCommandError(new Error("x"))).toBe(false);
  });

  it("puts errors in words", () => {
    expect(ipc.errorText({ code: "io", message: "Could not read the file.", hint: "Check the path." })).toBe(
      "Could not read the file. Check the path.",
    );
    expect(ipc.errorText({ code: "io", message: "cannot read poc.bin: gone", hint: null })).toBe("Cannot read poc.bin: gone.");
    expect(ipc.errorText(new Error("plain"))).toBe("plain");
    expect(ipc.errorText("text")).toBe("text");
  });

  it("hands out a new operation id for each seal", () => {
    const a = ipc.newOperation();
    expect(ipc.newOperation()).toBe(a + 1);
  });
});
