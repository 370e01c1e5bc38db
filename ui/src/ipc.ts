// The one module that talks to the Rust backend (docs/ipc.md): one typed function per
// command, subscriptions to the backend's events, and the native dialogs, clipboard and
// drag-and-drop the webview reaches through Tauri. Nothing else imports `invoke` or `listen`.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { open, save } from "@tauri-apps/plugin-dialog";
import { writeText } from "@tauri-apps/plugin-clipboard-manager";

import type { AttachmentView } from "./bindings/AttachmentView";
import type { ClassView } from "./bindings/ClassView";
import type { CommandError } from "./bindings/CommandError";
import type { CvssScore } from "./bindings/CvssScore";
import type { DraftStatus } from "./bindings/DraftStatus";
import type { ExportFormat } from "./bindings/ExportFormat";
import type { ExportRequest } from "./bindings/ExportRequest";
import type { ExportResult } from "./bindings/ExportResult";
import type { KeyCandidate } from "./bindings/KeyCandidate";
import type { MailResult } from "./bindings/MailResult";
import type { ProgramSummary } from "./bindings/ProgramSummary";
import type { ProgramView } from "./bindings/ProgramView";
import type { ReportDraft } from "./bindings/ReportDraft";
import type { SealPreview } from "./bindings/SealPreview";
import type { SealProgress } from "./bindings/SealProgress";
import type { SealRequestDto } from "./bindings/SealRequestDto";
import type { Settings } from "./bindings/Settings";
import type { SigningKeyView } from "./bindings/SigningKeyView";
import type { Theme } from "./bindings/Theme";

export type { CommandError } from "./bindings/CommandError";
export type { UnlistenFn } from "@tauri-apps/api/event";

/** The error codes of docs/ipc.md. */
export const ERROR_CODES = [
  "invalid_report",
  "no_team_key",
  "key_unusable",
  "key_changed",
  "not_found",
  "io",
  "cancelled",
  "passphrase_required",
  "wrong_passphrase",
  "anonymous_signing",
  "invalid_input",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Whether a rejected command's value is a `CommandError`. */
export function isCommandError(value: unknown): value is CommandError {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.code === "string" &&
    typeof v.message === "string" &&
    (v.hint === null || v.hint === undefined || typeof v.hint === "string")
  );
}

/** A rejection in words: the message, then the hint. */
export function errorText(error: unknown): string {
  if (isCommandError(error)) {
    return error.hint ? `${error.message} ${error.hint}` : error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

// ---- commands -------------------------------------------------------------------------

export const listPrograms = (): Promise<ProgramSummary[]> => invoke("list_programs");

export const getProgram = (id: string): Promise<ProgramView> => invoke("get_program", { id });

export const addProgram = (name: string, contact: string, intakeUrl: string | null): Promise<ProgramView> =>
  invoke("add_program", { name, contact, intakeUrl });

export const inspectTeamKey = (
  programId: string,
  armored: string | null,
  path: string | null,
): Promise<KeyCandidate> => invoke("inspect_team_key", { programId, armored, path });

export const confirmTeamKey = (programId: string, fingerprint: string): Promise<ProgramView> =>
  invoke("confirm_team_key", { programId, fingerprint });

export const listClasses = (): Promise<ClassView[]> => invoke("list_classes");

export const getDraft = (): Promise<DraftStatus> => invoke("get_draft");

export const updateDraft = (draft: ReportDraft): Promise<DraftStatus> => invoke("update_draft", { draft });

export const cvssScore = (vector: string): Promise<CvssScore> => invoke("cvss_score", { vector });

export const renderMarkdown = (markdown: string): Promise<string> => invoke("render_markdown", { markdown });

export const addAttachment = (path: string): Promise<AttachmentView[]> => invoke("add_attachment", { path });

export const removeAttachment = (id: number): Promise<AttachmentView[]> => invoke("remove_attachment", { id });

export const listAttachments = (): Promise<AttachmentView[]> => invoke("list_attachments");

export const importSigningKey = (path: string): Promise<SigningKeyView> => invoke("import_signing_key", { path });

export const clearSigningKey = (): Promise<null> => invoke("clear_signing_key");

export const previewSeal = (): Promise<SealPreview> => invoke("preview_seal");

export const exportReport = (request: ExportRequest): Promise<ExportResult> => invoke("export_report", { request });

export const armoredReport = (request: SealRequestDto): Promise<string> => invoke("armored_report", { request });

export const openMailClient = (request: SealRequestDto): Promise<MailResult> => invoke("open_mail_client", { request });

export const cancelSeal = (): Promise<null> => invoke("cancel_seal");

export const getSettings = (): Promise<Settings> => invoke("get_settings");

export const setTheme = (theme: Theme): Promise<Settings> => invoke("set_theme", { theme });

// ---- events ---------------------------------------------------------------------------

export const EVENTS = {
  attachmentsChanged: "attachments-changed",
  sealProgress: "seal-progress",
  sealFinished: "seal-finished",
} as const;

export const onAttachmentsChanged = (handler: (attachments: AttachmentView[]) => void): Promise<UnlistenFn> =>
  listen<AttachmentView[]>(EVENTS.attachmentsChanged, (event) => handler(event.payload));

export const onSealProgress = (handler: (progress: SealProgress) => void): Promise<UnlistenFn> =>
  listen<SealProgress>(EVENTS.sealProgress, (event) => handler(event.payload));

export const onSealFinished = (handler: (result: ExportResult) => void): Promise<UnlistenFn> =>
  listen<ExportResult>(EVENTS.sealFinished, (event) => handler(event.payload));

export type FileDrag = { type: "enter"; paths: string[] } | { type: "drop"; paths: string[] } | { type: "leave" };

/** Files dragged over or dropped on the window (native paths; the backend reads them). */
export const onFileDrag = (handler: (drag: FileDrag) => void): Promise<UnlistenFn> =>
  getCurrentWebview().onDragDropEvent((event) => {
    const p = event.payload;
    if (p.type === "enter" || p.type === "drop") handler({ type: p.type, paths: p.paths });
    else if (p.type === "leave") handler({ type: "leave" });
  });

// ---- native dialogs and clipboard -----------------------------------------------------

const KEY_FILTERS = [{ name: "OpenPGP key", extensions: ["asc", "pgp", "gpg", "key"] }];

/** Asks for one OpenPGP key file; `null` when the dialog was cancelled. */
export async function pickKeyFile(title: string): Promise<string | null> {
  const picked = await open({ title, multiple: false, directory: false, filters: KEY_FILTERS });
  return typeof picked === "string" ? picked : null;
}

/** Asks for files to attach; an empty list when cancelled. */
export async function pickAttachments(): Promise<string[]> {
  const picked = await open({ title: "Add files to the report", multiple: true, directory: false });
  if (picked === null) return [];
  return Array.isArray(picked) ? picked : [picked];
}

/** Asks where to save an export; `null` when cancelled. */
export function pickSavePath(format: ExportFormat): Promise<string | null> {
  const filters =
    format === "eml"
      ? [{ name: "Email message", extensions: ["eml"] }]
      : [{ name: "ASCII-armored OpenPGP message", extensions: ["asc"] }];
  return save({ title: "Save the sealed report", defaultPath: `report.${format}`, filters });
}

export const copyText = (text: string): Promise<void> => writeText(text);
