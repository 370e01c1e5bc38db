import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
const listen = vi.fn();
const onDragDropEvent = vi.fn();
const open = vi.fn();
const save = vi.fn();
const writeText = vi.fn();

vi.mock("@tauri-apps/api/core", () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock("@tauri-apps/api/event", () => ({ listen: (...a: unknown[]) => listen(...a) }));
vi.mock("@tauri-apps/api/webview", () => ({
  getCurrentWebview: () => ({ onDragDropEvent: (...a: unknown[]) => onDragDropEvent(...a) }),
}));
vi.mock("@tauri-apps/plugin-dialog", () => ({
  open: (...a: unknown[]) => open(...a),
  save: (...a: unknown[]) => save(...a),
}));
vi.mock("@tauri-apps/plugin-clipboard-manager", () => ({ writeText: (...a: unknown[]) => writeText(...a) }));

import * as ipc from "./ipc";
import { emptyDraft } from "./lib/draft";

beforeEach(() => {
  invoke.mockReset().mockResolvedValue(null);
  listen.mockReset().mockResolvedValue(() => {});
  onDragDropEvent.mockReset().mockResolvedValue(() => {});
  open.mockReset();
  save.mockReset();
  writeText.mockReset().mockResolvedValue(undefined);
});

describe("commands follow docs/ipc.md", () => {
  const draft = emptyDraft();
  const request = { sign: false, passphrase: null };
  const exportRequest = { format: "eml" as const, path: "/tmp/report.eml", sign: false, passphrase: null };
  const cases: [string, () => Promise<unknown>, string, Record<string, unknown> | undefined][] = [
    ["listPrograms", () => ipc.listPrograms(), "list_programs", undefined],
    ["getProgram", () => ipc.getProgram("novu"), "get_program", { id: "novu" }],
    ["addProgram", () => ipc.addProgram("Acme", "sec@acme.test", null), "add_program", { name: "Acme", contact: "sec@acme.test", intakeUrl: null }],
    ["inspectTeamKey (text)", () => ipc.inspectTeamKey("novu", "-----BEGIN", null), "inspect_team_key", { programId: "novu", armored: "-----BEGIN", path: null }],
    ["inspectTeamKey (file)", () => ipc.inspectTeamKey("novu", null, "/k.asc"), "inspect_team_key", { programId: "novu", armored: null, path: "/k.asc" }],
    ["confirmTeamKey", () => ipc.confirmTeamKey("novu", "ABCD"), "confirm_team_key", { programId: "novu", fingerprint: "ABCD" }],
    ["listClasses", () => ipc.listClasses(), "list_classes", undefined],
    ["getDraft", () => ipc.getDraft(), "get_draft", undefined],
    ["updateDraft", () => ipc.updateDraft(draft), "update_draft", { draft }],
    ["cvssScore", () => ipc.cvssScore("CVSS:3.1/AV:N"), "cvss_score", { vector: "CVSS:3.1/AV:N" }],
    ["renderMarkdown", () => ipc.renderMarkdown("# x"), "render_markdown", { markdown: "# x" }],
    ["addAttachment", () => ipc.addAttachment("/a.png"), "add_attachment", { path: "/a.png" }],
    ["removeAttachment", () => ipc.removeAttachment(3), "remove_attachment", { id: 3 }],
    ["listAttachments", () => ipc.listAttachments(), "list_attachments", undefined],
    ["importSigningKey", () => ipc.importSigningKey("/me.asc"), "import_signing_key", { path: "/me.asc" }],
    ["clearSigningKey", () => ipc.clearSigningKey(), "clear_signing_key", undefined],
    ["previewSeal", () => ipc.previewSeal(), "preview_seal", undefined],
    ["exportReport", () => ipc.exportReport(exportRequest), "export_report", { request: exportRequest }],
    ["armoredReport", () => ipc.armoredReport(request), "armored_report", { request }],
    ["openMailClient", () => ipc.openMailClient(request), "open_mail_client", { request }],
    ["cancelSeal", () => ipc.cancelSeal(), "cancel_seal", undefined],
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
    await expect(ipc.previewSeal()).rejects.toBe(err);
  });
});

describe("events", () => {
  it("subscribes to the three backend events and unwraps their payloads", async () => {
    const got: unknown[] = [];
    await ipc.onAttachmentsChanged((l) => got.push(l));
    await ipc.onSealProgress((p) => got.push(p));
    await ipc.onSealFinished((r) => got.push(r));
    expect(listen.mock.calls.map((c) => c[0])).toEqual(["attachments-changed", "seal-progress", "seal-finished"]);
    for (const [i, c] of listen.mock.calls.entries()) (c[1] as (e: { payload: unknown }) => void)({ payload: i });
    expect(got).toEqual([0, 1, 2]);
  });

  it("reports dragged and dropped files", async () => {
    const seen: unknown[] = [];
    await ipc.onFileDrag((d) => seen.push(d));
    const handler = onDragDropEvent.mock.calls[0][0] as (e: { payload: unknown }) => void;
    handler({ payload: { type: "enter", paths: ["/a.asc"], position: { x: 0, y: 0 } } });
    handler({ payload: { type: "over", position: { x: 1, y: 1 } } });
    handler({ payload: { type: "drop", paths: ["/a.asc"], position: { x: 1, y: 1 } } });
    handler({ payload: { type: "leave" } });
    expect(seen).toEqual([
      { type: "enter", paths: ["/a.asc"] },
      { type: "drop", paths: ["/a.asc"] },
      { type: "leave" },
    ]);
  });
});

describe("dialogs and clipboard", () => {
  it("returns one key path or null", async () => {
    open.mockResolvedValueOnce("/k.asc");
    expect(await ipc.pickKeyFile("t")).toBe("/k.asc");
    open.mockResolvedValueOnce(null);
    expect(await ipc.pickKeyFile("t")).toBeNull();
  });

  it("returns the chosen attachments as a list", async () => {
    open.mockResolvedValueOnce(["/a", "/b"]);
    expect(await ipc.pickAttachments()).toEqual(["/a", "/b"]);
    expect(open.mock.calls[0][0]).toMatchObject({ multiple: true });
    open.mockResolvedValueOnce(null);
    expect(await ipc.pickAttachments()).toEqual([]);
  });

  it("proposes report.eml / report.asc when saving", async () => {
    save.mockResolvedValue("/x");
    await ipc.pickSavePath("eml");
    await ipc.pickSavePath("asc");
    expect(save.mock.calls[0][0]).toMatchObject({ defaultPath: "report.eml" });
    expect(save.mock.calls[1][0]).toMatchObject({ defaultPath: "report.asc" });
  });

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
    expect(ipc.errorText({ code: "io", message: "Could not read.", hint: null })).toBe("Could not read.");
    expect(ipc.errorText(new Error("plain"))).toBe("plain");
    expect(ipc.errorText("text")).toBe("text");
  });

  it("lists the contract's error codes", () => {
    expect(ipc.ERROR_CODES).toContain("key_changed");
    expect(ipc.ERROR_CODES).toHaveLength(12);
  });
});
