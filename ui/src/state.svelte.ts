// Application state shared by the screens. The backend owns the draft; this holds the
// copy on screen, the latest answer (findings, score, readiness) and the lists it serves.

import type { AppSettings } from "./bindings/AppSettings";
import type { AttachmentView } from "./bindings/AttachmentView";
import type { Class } from "./bindings/Class";
import type { DraftStatus } from "./bindings/DraftStatus";
import type { ExportResult } from "./bindings/ExportResult";
import type { ProgramView } from "./bindings/ProgramView";
import type { SigningKeyView } from "./bindings/SigningKeyView";
import type { OpenedDraft } from "./bindings/OpenedDraft";
import type { VaultView } from "./bindings/VaultView";
import type { OutboxView } from "./bindings/OutboxView";
import type { Role } from "./bindings/Role";
import * as ipc from "./ipc";
import { DraftSync, emptyDraft, mergeReturnedDraft, setProgram, toWire, type ReportDraft } from "./lib/draft";
import { groupFindings, visibleFindings, type GroupedFindings } from "./lib/findings";
import { applyTheme } from "./lib/theme";
import { debounce } from "./lib/debounce";

/** Autosave this long after typing stops. */
export const AUTOSAVE_MS = 2000;
/** How often the vault's lock state is asked for (auto-lock happens in the backend). */
const VAULT_POLL_MS = 30_000;

export type Screen = "drafts" | "programs" | "report" | "review" | "sent" | "inbox" | "settings";

export const SCREENS: { id: Screen; label: string }[] = [
  { id: "drafts", label: "Drafts" },
  { id: "programs", label: "Programs" },
  { id: "report", label: "Report" },
  { id: "review", label: "Review & seal" },
  { id: "sent", label: "Sent" },
  { id: "inbox", label: "Team inbox" },
  { id: "settings", label: "Settings" },
];

/** The researcher's screens; a team member alone sees the Inbox and Settings. */
const RESEARCHER_SCREENS: Screen[] = ["drafts", "programs", "report", "review", "sent"];

/** The screens the chosen role shows (every one until a role is chosen). */
export function screensFor(role: Role | null | undefined): { id: Screen; label: string }[] {
  if (role === "researcher") return SCREENS.filter((s) => s.id !== "inbox");
  if (role === "team") return SCREENS.filter((s) => !RESEARCHER_SCREENS.includes(s.id));
  return SCREENS;
}

class AppState {
  screen = $state<Screen>("programs");
  ready = $state(false);
  loadError = $state<string | null>(null);
  syncError = $state<string | null>(null);

  programs = $state.raw<ProgramView[]>([]);
  /** Program files that could not be read, each message naming its file. */
  brokenPrograms = $state.raw<string[]>([]);
  classes = $state.raw<Class[]>([]);
  /** The draft on screen; edits go through `edit`. */
  draft = $state.raw<ReportDraft>(emptyDraft());
  /** The backend's latest answer about the draft. */
  status = $state.raw<DraftStatus | null>(null);
  /** The policy of the report's program. */
  program = $state.raw<ProgramView | null>(null);
  attachments = $state.raw<AttachmentView[]>([]);
  settings = $state.raw<AppSettings | null>(null);
  /** A key file chosen to sign with instead of the identity. */
  signingKey = $state.raw<SigningKeyView | null>(null);
  /** The signing switch: on, the core's rule decides who signs (the identity when the credit
   * is named, nobody for an anonymous report, the key file when one is chosen). */
  sign = $state(true);
  /** The outbox as the backend last announced it (the sidebar's count). */
  outbox = $state.raw<OutboxView | null>(null);
  /** The last sealed export, kept so the review screen can show it after navigation. */
  lastExport = $state.raw<ExportResult | null>(null);
  /** The draft on screen left sealed by another way than a file: submitted (or queued in the
   * outbox), copied as armored text, or handed to the mail client. */
  sent = $state(false);
  /** The draft on screen left as a sealed report: the steps' "Send" is done. */
  get delivered(): boolean {
    return this.sent || this.lastExport !== null;
  }

  findings: GroupedFindings = $derived(groupFindings(this.status?.findings ?? []));
  /** The Report screen's fields the researcher has left (their findings show). */
  touched = $state.raw<ReadonlySet<string>>(new Set());
  /** Every finding shows: "Check the report" was pressed, or the draft came with content. */
  checkedAll = $state(false);
  /** What the Report screen shows of the findings. */
  shownFindings: GroupedFindings = $derived(visibleFindings(this.findings, this.touched, this.checkedAll));

  /** A field was left: its findings show from now on. */
  touch(slots: string[]): void {
    if (slots.every((s) => this.touched.has(s))) return;
    this.touched = new Set([...this.touched, ...slots]);
  }

  /** Starts a draft's findings afresh: all shown for a draft with content, else as touched. */
  private resetFindings(draft: { title: string }): void {
    this.touched = new Set();
    this.checkedAll = draft.title.trim() !== "";
  }

  /** The vault: identity, lock, drafts, save state. */
  vault = $state.raw<VaultView | null>(null);
  vaultError = $state<string | null>(null);
  /** Files of an opened draft that could not be attached again, and problems of an opened file. */
  openNotes = $state.raw<string[]>([]);

  /** Edits on screen that the vault does not have yet. */
  unsaved = $state(false);

  private readonly autosaveDebounced = debounce(() => {
    void this.saveNow();
  }, AUTOSAVE_MS);

  private autosaveSoon = Object.assign(
    () => {
      this.unsaved = true;
      this.autosaveDebounced();
    },
    {
      cancel: () => this.autosaveDebounced.cancel(),
      pending: () => this.autosaveDebounced.pending(),
    },
  );

  /** Schedules an autosave (after a change the backend made, e.g. attachments). */
  scheduleAutosave(): void {
    this.autosaveSoon();
  }

  /** Saves the draft now (after the pending edit reached the backend). */
  async saveNow(): Promise<void> {
    this.autosaveSoon.cancel();
    try {
      await this.sync.flush();
      const view = await ipc.autosave();
      this.vault = view;
      this.vaultError = null;
      // A change made while saving schedules its own save.
      if (!this.autosaveDebounced.pending()) this.unsaved = view.dirty;
    } catch (e) {
      this.vaultError = ipc.errorText(e);
    }
  }

  async refreshVault(): Promise<void> {
    try {
      this.vault = await ipc.vaultStatus();
    } catch (e) {
      this.vaultError = ipc.errorText(e);
    }
  }

  /** A vault answer from a command (unlock, create identity…). */
  setVault(view: VaultView): void {
    this.vault = view;
    this.vaultError = null;
    if (!this.autosaveDebounced.pending()) this.unsaved = view.dirty;
  }

  /** Puts an opened draft on screen. */
  async showOpened(opened: OpenedDraft): Promise<void> {
    this.sync.cancel();
    this.autosaveSoon.cancel();
    this.status = opened.status;
    this.draft = opened.status.draft;
    this.resetFindings(opened.status.draft);
    this.openNotes = [...opened.missing, ...opened.problems];
    this.unsaved = false;
    this.lastExport = null;
    this.sent = false;
    await this.loadReportProgram();
    await this.refreshAttachments();
    await this.refreshVault();
  }

  private readonly sync = new DraftSync({
    send: (d) => ipc.updateDraft(toWire(d)),
    onStatus: (status, latest) => this.applyStatus(status, latest),
    onError: (e) => {
      this.syncError = ipc.errorText(e);
    },
  });

  private applyStatus(status: DraftStatus, latest: boolean): void {
    this.syncError = null;
    this.status = status;
    if (latest) {
      this.draft = mergeReturnedDraft(this.draft, status.draft);
    }
  }

  /** Applies one edit to the draft on screen and schedules `update_draft`. */
  edit(change: (d: ReportDraft) => ReportDraft): void {
    const next = change(this.draft);
    if (next === this.draft) return;
    const programChanged = next.program !== this.draft.program;
    this.draft = next;
    this.sync.edit(next);
    this.autosaveSoon();
    if (programChanged) void this.loadReportProgram();
  }

  /** Sends pending edits now and waits for the answer. */
  flush(): Promise<void> {
    return this.sync.flush();
  }

  /** Asks the backend about the draft again (e.g. after a team key was confirmed). */
  async recheck(): Promise<void> {
    this.sync.edit(this.draft);
    await this.sync.flush();
  }

  useProgram(id: string): void {
    this.edit((d) => setProgram(d, id));
  }

  async loadReportProgram(): Promise<void> {
    const id = this.draft.program;
    if (!id) {
      this.program = null;
      return;
    }
    try {
      const view = await ipc.getProgram(id);
      if (this.draft.program === id) this.program = view;
    } catch (e) {
      this.program = null;
      this.syncError = ipc.errorText(e);
    }
  }

  /** Keeps the program list and the report's program current after a change on the Programs screen. */
  async programChanged(view: ProgramView): Promise<void> {
    if (view.program.id === this.draft.program) this.program = view;
    try {
      this.setPrograms(await ipc.listPrograms());
    } catch (e) {
      this.syncError = ipc.errorText(e);
    }
    if (view.program.id === this.draft.program) await this.recheck();
  }

  private setPrograms(list: { programs: ProgramView[]; broken: string[] }): void {
    this.programs = list.programs;
    this.brokenPrograms = list.broken;
  }

  async refreshAttachments(): Promise<void> {
    try {
      this.attachments = await ipc.listAttachments();
    } catch (e) {
      this.syncError = ipc.errorText(e);
    }
  }

  setSettings(settings: AppSettings): void {
    this.settings = settings;
    applyTheme(settings.settings.theme);
    // A screen the role does not show is left for the role's first.
    const shown = screensFor(settings.settings.role);
    if (!shown.some((x) => x.id === this.screen)) this.screen = shown[0]!.id;
  }

  async init(): Promise<void> {
    try {
      // Subscribe first so no change between the first list and the subscription is missed.
      await ipc.onAttachmentsChanged((list) => {
        this.attachments = list;
      });
      await ipc.onSealFinished((result) => {
        this.lastExport = result;
      });
      await ipc.onOutboxChanged((outbox) => {
        this.outbox = outbox;
      });
      const [programs, classes, status, attachments, settings, vault] = await Promise.all([
        ipc.listPrograms(),
        ipc.listClasses(),
        ipc.getDraft(),
        ipc.listAttachments(),
        ipc.getSettings(),
        ipc.vaultStatus(),
      ]);
      this.vault = vault;
      // A crash left a draft: the researcher starts where it was (unlock, then it opens).
      if (vault.recovered || (vault.identity !== null && vault.drafts.length > 0)) this.screen = "drafts";
      window.setInterval(() => void this.refreshVault(), VAULT_POLL_MS);
      window.addEventListener("blur", () => {
        if (this.autosaveSoon.pending()) void this.saveNow();
      });
      this.setPrograms(programs);
      this.classes = classes;
      this.status = status;
      this.draft = status.draft;
      this.resetFindings(status.draft);
      this.attachments = attachments;
      this.setSettings(settings);
      await this.loadReportProgram();
      this.ready = true;
    } catch (e) {
      this.loadError = ipc.errorText(e);
    }
  }
}

export const app = new AppState();
