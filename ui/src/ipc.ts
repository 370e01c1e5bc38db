// The one module that talks to the Rust backend (docs/ipc.md): one typed function per
// command and subscriptions to the backend's events. File dialogs are opened by the backend,
// which hands back tokens, never paths the webview could forge. Nothing else imports `invoke`
// or `listen`.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { writeText } from "@tauri-apps/plugin-clipboard-manager";

import type { AppSettings } from "./bindings/AppSettings";
import type { AttachmentView } from "./bindings/AttachmentView";
import type { Class } from "./bindings/Class";
import type { CommandError } from "./bindings/CommandError";
import type { CvssScore } from "./bindings/CvssScore";
import type { DraftStatus } from "./bindings/DraftStatus";
import type { ErrorCode } from "./bindings/ErrorCode";
import type { ExportKind } from "./bindings/ExportKind";
import type { ExportResult } from "./bindings/ExportResult";
import type { DiscoveredView } from "./bindings/DiscoveredView";
import type { ImportedView } from "./bindings/ImportedView";
import type { SentList } from "./bindings/SentList";
import type { ReadReply } from "./bindings/ReadReply";
import type { ReportFollowUp } from "./bindings/ReportFollowUp";
import type { SubmitResult } from "./bindings/SubmitResult";
import type { OfferedKey } from "./bindings/OfferedKey";
import type { KeyRequestView } from "./bindings/KeyRequestView";
import type { OutboxView } from "./bindings/OutboxView";
import type { MailResult } from "./bindings/MailResult";
import type { PickedFile } from "./bindings/PickedFile";
import type { ProgramList } from "./bindings/ProgramList";
import type { ProgramView } from "./bindings/ProgramView";
import type { Report } from "./bindings/Report";
import type { SealOptions } from "./bindings/SealOptions";
import type { SealPreview } from "./bindings/SealPreview";
import type { SealProgress } from "./bindings/SealProgress";
import type { SigningKeyView } from "./bindings/SigningKeyView";
import type { Theme } from "./bindings/Theme";
import type { VaultView } from "./bindings/VaultView";
import type { OpenedDraft } from "./bindings/OpenedDraft";
import type { InboxEntry } from "./bindings/InboxEntry";
import type { ReportStatus } from "./bindings/ReportStatus";
import type { Role } from "./bindings/Role";
import type { TeamReportView } from "./bindings/TeamReportView";
import type { TeamView } from "./bindings/TeamView";

export type { CommandError } from "./bindings/CommandError";
export type { ErrorCode } from "./bindings/ErrorCode";
export type { UnlistenFn } from "@tauri-apps/api/event";

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

/** The code of a rejection, when it is a `CommandError`. */
export function errorCode(error: unknown): ErrorCode | null {
  return isCommandError(error) ? error.code : null;
}

/** The core's messages are lower-case clauses; shown alone they read as sentences. */
function sentence(text: string): string {
  const t = text.trim();
  const capital = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** A rejection in words: the message, then the hint. */
export function errorText(error: unknown): string {
  if (isCommandError(error)) {
    return error.hint ? `${sentence(error.message)} ${sentence(error.hint)}` : sentence(error.message);
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

let nextOp = 1;
/** A new operation id for a seal, so that a cancel stops that seal and no other. */
export function newOperation(): number {
  return nextOp++;
}

// ---- commands -------------------------------------------------------------------------

export const listPrograms = (): Promise<ProgramList> => invoke("list_programs");

export const getProgram = (id: string): Promise<ProgramView> => invoke("get_program", { id });

export const addProgram = (name: string, contact: string, intakeUrl: string | null): Promise<ProgramView> =>
  invoke("add_program", { name, contact, intakeUrl });

/** Discovery for a domain or address, saved as a program with its candidate keys (none pinned). */
export const discoverProgram = (domain: string): Promise<DiscoveredView> => invoke("discover_program", { domain });

/** Discovery for a program the user has, on its own domain; candidates join that program. */
export const discoverProgramKeys = (programId: string): Promise<DiscoveredView> =>
  invoke("discover_program_keys", { programId });

/** The "please publish a key" message for a program (it says nothing of the finding). */
export const requestKey = (programId: string): Promise<KeyRequestView> => invoke("request_key", { programId });

/** The backend opens the mail client on the key request it builds; the URL it opened. */
export const openKeyRequest = (programId: string): Promise<string> => invoke("open_key_request", { programId });

/** Asks the backend's file dialog for a SECURITY.md (or takes a dropped file's token) and imports it. */
export const importProgramFile = (dropped: number | null = null): Promise<ImportedView | null> =>
  invoke("import_program_file", { dropped });

/** Seals the draft and submits it to the program's intake (queued in the outbox when unreachable). */
export const submitReport = (options: SealOptions): Promise<SubmitResult> => invoke("submit_report", { options });

/** Receipts of submitted reports, the outbox and the exports. */
export const listSent = (): Promise<SentList> => invoke("list_sent");

/** The intake's status of a receipt and the team's replies, decrypted and verified in the backend. */
export const followUpReport = (receipt: string): Promise<ReportFollowUp> => invoke("follow_up_report", { receipt });

/** The team member's standing (Inbox). */
export const teamStatus = (): Promise<TeamView> => invoke("team_status");

/** Connects as a team member; the backend asks for the member's key file in its own dialog. */
export const teamConnect = (intakeUrl: string, token: string, program: string, passphrase: string): Promise<TeamView> =>
  invoke("team_connect", { intakeUrl, token, program, passphrase });

/** Unlocks the member's key for this session. */
export const teamUnlock = (passphrase: string): Promise<TeamView> => invoke("team_unlock", { passphrase });

/** The team's inbox, only `status` when given. */
export const teamInbox = (status: ReportStatus | null): Promise<InboxEntry[]> => invoke("team_inbox", { status });

/** A report opened in memory by the backend. */
export const teamOpen = (receipt: string): Promise<TeamReportView> => invoke("team_open", { receipt });
export const teamThread = (receipt: string): Promise<ReadReply[]> => invoke("team_thread", { receipt });
export const teamSaveAttachment = (receipt: string, name: string): Promise<string | null> =>
  invoke("team_save_attachment", { receipt, name });

/** Sets a report's status. */
export const teamSetStatus = (receipt: string, status: ReportStatus): Promise<ReportStatus> =>
  invoke("team_set_status", { receipt, status });

/** Replies as the member; answers when the intake took it. */
export const teamReply = (receipt: string, text: string): Promise<string> => invoke("team_reply", { receipt, text });

/** "Try now": every report in the outbox is sent again. */
export const retryOutboxNow = (): Promise<SentList> => invoke("retry_outbox_now");

export const inspectTeamKey = (programId: string, armored: string): Promise<OfferedKey> =>
  invoke("inspect_team_key", { programId, armored });

/** Shows the key in a dropped file (its token), or opens the native file dialog in the
 * backend; `null` when cancelled. */
export const chooseTeamKeyFile = (programId: string, dropped: number | null = null): Promise<OfferedKey | null> =>
  invoke("choose_team_key_file", { programId, dropped });

/** Pins the offered key `candidate` (its fingerprint) once `typedFingerprint`, what the team
 * published, matches it (compared in the backend). */
export const confirmTeamKey = (
  programId: string,
  candidate: string,
  typedFingerprint: string,
  replace: boolean,
): Promise<ProgramView> => invoke("confirm_team_key", { programId, candidate, typedFingerprint, replace });

export const listClasses = (): Promise<Class[]> => invoke("list_classes");

export const getDraft = (): Promise<DraftStatus> => invoke("get_draft");

export const updateDraft = (draft: Report): Promise<DraftStatus> => invoke("update_draft", { draft });

export const cvssScore = (vector: string): Promise<CvssScore> => invoke("cvss_score", { vector });

export const renderMarkdown = (markdown: string): Promise<string> => invoke("render_markdown", { markdown });

/** Opens the native file dialog in the backend and attaches what was chosen. */
export const chooseAttachments = (): Promise<AttachmentView[]> => invoke("choose_attachments");

/** Attaches files dropped on the window (tokens from the `files-dropped` event). */
export const addDropped = (tokens: number[]): Promise<AttachmentView[]> => invoke("add_dropped", { tokens });

export const removeAttachment = (id: number): Promise<AttachmentView[]> => invoke("remove_attachment", { id });

export const listAttachments = (): Promise<AttachmentView[]> => invoke("list_attachments");

/** Opens the native file dialog in the backend; `null` when cancelled. */
export const chooseSigningKey = (): Promise<SigningKeyView | null> => invoke("choose_signing_key");

export const clearSigningKey = (): Promise<null> => invoke("clear_signing_key");

/** What will be sent and who signs it (`sign`: the signing switch). */
export const previewSeal = (sign: boolean): Promise<SealPreview> => invoke("preview_seal", { sign });

/** Asks where to save (native dialog, in the backend), then seals; `null` when cancelled. */
export const exportReport = (format: ExportKind, options: SealOptions): Promise<ExportResult | null> =>
  invoke("export_report", { format, options });

/** Opens what "Send it" names for the last export (the .eml, or the backend's mail link). */
export const openExport = (): Promise<string> => invoke("open_export");

export const armoredReport = (options: SealOptions): Promise<string> => invoke("armored_report", { options });

export const openMailClient = (options: SealOptions): Promise<MailResult> => invoke("open_mail_client", { options });

export const cancelSeal = (op: number): Promise<boolean> => invoke("cancel_seal", { op });

export const getSettings = (): Promise<AppSettings> => invoke("get_settings");

export const setTheme = (theme: Theme): Promise<AppSettings> => invoke("set_theme", { theme });

/** The proxy every request goes through (empty clears it); checked by the backend. */
export const setProxy = (proxy: string): Promise<AppSettings> => invoke("set_proxy", { proxy });

export const setRetrySeconds = (seconds: number): Promise<AppSettings> => invoke("set_retry_seconds", { seconds });
export const setRole = (role: Role): Promise<AppSettings> => invoke("set_role", { role });
export const setNotifySeconds = (seconds: number): Promise<AppSettings> => invoke("set_notify_seconds", { seconds });

// ---- events ---------------------------------------------------------------------------

export const EVENTS = {
  attachmentsChanged: "attachments-changed",
  sealProgress: "seal-progress",
  sealFinished: "seal-finished",
  filesDropped: "files-dropped",
  outboxChanged: "outbox-changed",
  closeRequested: "close-requested",
} as const;

export const onAttachmentsChanged = (handler: (attachments: AttachmentView[]) => void): Promise<UnlistenFn> =>
  listen<AttachmentView[]>(EVENTS.attachmentsChanged, (event) => handler(event.payload));

export const onSealProgress = (handler: (progress: SealProgress) => void): Promise<UnlistenFn> =>
  listen<SealProgress>(EVENTS.sealProgress, (event) => handler(event.payload));

export const onSealFinished = (handler: (result: ExportResult) => void): Promise<UnlistenFn> =>
  listen<ExportResult>(EVENTS.sealFinished, (event) => handler(event.payload));

/** The outbox changed (a report waits, was delivered, or the vault locked). */
/** The window was asked to close while the draft on screen cannot be saved (no identity). */
export const onCloseRequested = (handler: () => void): Promise<UnlistenFn> =>
  listen<null>(EVENTS.closeRequested, () => handler());

/** Closes the window although the draft on screen is not saved. */
export const closeDiscarding = (): Promise<void> => invoke("close_discarding");

export const onOutboxChanged = (handler: (outbox: OutboxView) => void): Promise<UnlistenFn> =>
  listen<OutboxView>(EVENTS.outboxChanged, (event) => handler(event.payload));

/** Files dropped on the window, registered by the backend (tokens and names). */
export const onFilesDropped = (handler: (files: PickedFile[]) => void): Promise<UnlistenFn> =>
  listen<PickedFile[]>(EVENTS.filesDropped, (event) => handler(event.payload));

export type FileDrag = { type: "enter"; names: string[] } | { type: "leave" } | { type: "drop" };

/** Files dragged over the window, for highlighting drop zones (names only; the backend reads
 * dropped files and announces them with `files-dropped`). */
export const onFileDrag = (handler: (drag: FileDrag) => void): Promise<UnlistenFn> =>
  getCurrentWebview().onDragDropEvent((event) => {
    const p = event.payload;
    if (p.type === "enter") handler({ type: "enter", names: p.paths.map(baseName) });
    else if (p.type === "leave") handler({ type: "leave" });
    else if (p.type === "drop") handler({ type: "drop" });
  });

function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? path;
}

export const copyText = (text: string): Promise<void> => writeText(text);

/** Keeps (or scrubs again) an attachment's metadata. */
export const setKeepMetadata = (id: number, keep: boolean): Promise<AttachmentView[]> =>
  invoke("set_keep_metadata", { id, keep });

// The vault. Passphrases go straight to the backend and are not kept in JS state.

export const vaultStatus = (): Promise<VaultView> => invoke("vault_status");

/** Saves the draft on screen (encrypted to the identity) when it changed. */
export const autosave = (): Promise<VaultView> => invoke("autosave");

export const createIdentity = (name: string, email: string, passphrase: string): Promise<VaultView> =>
  invoke("create_identity", { name, email, passphrase });

/** Opens the backend's file dialog for a secret key; `null` when cancelled. */
export const importIdentity = (passphrase: string): Promise<VaultView | null> =>
  invoke("import_identity", { passphrase });

/** Saves the identity's public key where the researcher chooses; the path, `null` when cancelled. */
export const exportIdentity = (): Promise<string | null> => invoke("export_identity");

/**
 * Backs up the identity's secret key where the researcher chooses, still locked with the
 * passphrase (which must unlock it); the path, `null` when cancelled.
 */
export const backupIdentity = (passphrase: string): Promise<string | null> =>
  invoke("backup_identity", { passphrase });

export const unlockVault = (passphrase: string): Promise<VaultView> => invoke("unlock_vault", { passphrase });

export const lockVault = (): Promise<VaultView> => invoke("lock_vault");

export const setAutoLock = (minutes: number): Promise<VaultView> => invoke("set_auto_lock", { minutes });

export const openDraft = (id: string): Promise<OpenedDraft> => invoke("open_draft", { id });

export const newDraft = (): Promise<OpenedDraft> => invoke("new_draft");

export const duplicateDraft = (id: string): Promise<VaultView> => invoke("duplicate_draft", { id });

export const deleteDraft = (id: string): Promise<VaultView> => invoke("delete_draft", { id });

/** Opens a report file chosen in the backend's dialog as a new draft; `null` when cancelled. */
export const openReportFile = (): Promise<OpenedDraft | null> => invoke("open_report_file");

/** Saves the draft as a plain report file where the researcher chooses; `null` when cancelled. */
export const saveReportFile = (): Promise<string | null> => invoke("save_report_file");

/** Opens the program's own https policy page in the browser (the backend picks the URL). */
export const openPolicy = (programId: string): Promise<string> => invoke("open_policy", { programId });
