// @vitest-environment jsdom
// The review screen when the report is ready: signing with a protected key, exporting with a
// passphrase that is cleared at once, progress events, and the other ways out.
import { flushSync, mount, unmount } from "svelte";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const fake = vi.hoisted(() => {
  const FP = "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333";
  return {
    FP,
    progress: null as null | ((p: { op: number; done: number; total: number }) => void),
    exportRequests: [] as unknown[],
    sealRequests: [] as unknown[],
    copied: [] as string[],
    passphraseSeenDuringExport: null as string | null,
    keyFile: false,
  };
});

vi.mock("./ipc", async (importOriginal) => {
  const real = await importOriginal<typeof import("./ipc")>();
  const key = {
    fingerprint: fake.FP,
    fingerprint_grouped: "AAAA BBBB",
    user_ids: ["Team <security@example.test>"],
    algorithm: "RSA 4096",
    encryption_subkeys: [],
    created: "2024-01-01T00:00:00Z",
    expires: null,
    version: 4,
    format: "SEIPDv2",
    problem: null,
  };
  const draft = {
    schema: 1,
    program: "acme",
    title: "T",
    assets: ["https://acme.test"],
    class: "xss",
    cwe: "CWE-79",
    cvss: null,
    severity: "high",
    credit: { name: "Ada", handle: null },
    attestations: [],
    scope_confirmations: [],
    reference: "EMB-7K2Q-9XDA",
    body: "b",
  };
  const status = { draft, findings: [], cvss: null, severity: "high", readyToSeal: true };
  const settings = { settings: { theme: "light" }, dataDir: "/d", version: "0.1.0", tauriVersion: "2", sequoiaVersion: "2", licenses: [] };
  const program = {
    program: {
      id: "acme", name: "Acme", contacts: [], policy_url: null, intake_url: null, in_scope: [], reporting: null,
      out_of_scope: [], attestations: [], response: null, credit: null, promises: [],
      team_key: { fingerprint: fake.FP, source: "file:/k.asc", confirmed_at: null },
    },
    email: "security@acme.test",
    builtin: false,
    trust: "pinned",
    teamKey: key,
  };
  return {
    isCommandError: real.isCommandError,
    errorText: real.errorText,
    errorCode: real.errorCode,
    newOperation: real.newOperation,
    listPrograms: async () => ({ programs: [program], broken: [] }),
    getProgram: async () => program,
    listClasses: async () => [{ id: "xss", name: "Cross-site scripting", cwe: "CWE-79" }],
    getDraft: async () => status,
    updateDraft: async () => status,
    listAttachments: async () => [],
    getSettings: async () => settings,
    vaultStatus: async () => ({
      identity: null,
      unlocked: false,
      drafts: [],
      titles: {},
      broken: [],
      current: null,
      savedAt: null,
      dirty: false,
      recovered: false,
      autoLockMinutes: 10,
      dir: "/tmp/embargo/vault",
    }),
    autosave: async () => null,
    onAttachmentsChanged: async () => () => {},
    onSealFinished: async () => () => {},
    onOutboxChanged: async () => () => {},
    onCloseRequested: async () => () => {},
    closeDiscarding: async () => {},
    onSealProgress: async (h: (p: { op: number; done: number; total: number }) => void) => {
      fake.progress = h;
      return () => {};
    },
    onFileDrag: async () => () => {},
    onFilesDropped: async () => () => {},
    previewSeal: async () => ({
      text: "readable", bodyHtml: "<p>b</p>", format: "SEIPDv2", anonymous: false, attachments: [],
      signing: fake.keyFile
        ? { by: "key_file", key: { ...key, fingerprint: "1234567812345678", user_ids: ["Ada"] }, unsignedBecause: null, needsUnlock: false, needsPassphrase: true }
        : { by: "nobody", key: null, unsignedBecause: "no_identity", needsUnlock: false, needsPassphrase: false },
      keyFile: fake.keyFile ? { key: { ...key, fingerprint: "1234567812345678", user_ids: ["Ada"] }, protected: true } : null,
      subject: "Security report", to: "security@acme.test", reference: "EMB-7K2Q-9XDA",
      recipients: [key],
      delivery: { armoredBytes: 1500, copy: true, mailto: true },
    }),
    chooseSigningKey: async () => {
      fake.keyFile = true;
      return { key: { ...key, fingerprint: "1234567812345678", user_ids: ["Ada"] }, protected: true };
    },
    clearSigningKey: async () => null,
    exportReport: async (format: string, options: { passphrase: string | null; sign: boolean; op: number }) => {
      fake.exportRequests.push({ format, ...options });
      fake.passphraseSeenDuringExport = (document.getElementById("passphrase") as HTMLInputElement | null)?.value ?? null;
      fake.progress?.({ op: options.op, done: 1, total: 2 });
      fake.progress?.({ op: options.op + 1000, done: 2, total: 2 });
      await new Promise((r) => setTimeout(r, 20));
      return {
        path: `/tmp/report.${format}`, format: "SEIPDv2", recipients: [fake.FP], signer: "1234567812345678", bytes: 2048, reference: "EMB-7K2Q-9XDA",
        sendIt: {
          to: "security@acme.test", subject: "Encrypted vulnerability report EMB-7K2Q-9XDA", file: `/tmp/report.${format}`, bytes: 2048,
          way: { how: "open_eml" }, copyable: false,
        },
      };
    },
    armoredReport: async (options: { sign: boolean; passphrase: string | null }) => (
      fake.sealRequests.push({ sign: options.sign, passphrase: options.passphrase }), "-----BEGIN PGP MESSAGE-----"
    ),
    openMailClient: async (options: { sign: boolean; passphrase: string | null }) => (
      fake.sealRequests.push({ sign: options.sign, passphrase: options.passphrase }),
      { opened: null, tooLarge: true, noAddress: false }
    ),
    copyText: async (t: string) => {
      fake.copied.push(t);
    },
    cancelSeal: async () => true,
  };
});

import App from "./App.svelte";

const byId = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
async function waitFor<T>(fn: () => T | null | undefined | false, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
    flushSync();
  }
  throw new Error(`timed out waiting for ${what}`);
}
function click(el: HTMLElement | null) {
  (el as HTMLElement).click();
  flushSync();
}

let app: ReturnType<typeof mount>;
beforeAll(async () => {
  const target = document.createElement("div");
  document.body.append(target);
  app = mount(App, { target });
  click(await waitFor(() => byId("nav-review"), "navigation"));
  await waitFor(() => byId("review-text"), "preview");
});
afterAll(() => unmount(app));

describe("sealing a ready report", () => {
  it("enables the actions and explains the format", () => {
    expect((byId("export-eml") as HTMLButtonElement).disabled).toBe(false);
    expect(byId("not-ready")).toBeNull();
    expect(document.body.textContent).toContain("Authenticated encryption that only recent OpenPGP tools open (not GnuPG 2.2).");
  });

  it("signs with a protected key: the passphrase goes to the call and the field is cleared; progress of other operations is ignored", async () => {
    click(Array.from(document.querySelectorAll("button")).find((b) => b.textContent?.includes("Sign with a key file instead")) ?? null);
    const pass = await waitFor(() => document.getElementById("passphrase") as HTMLInputElement | null, "passphrase field");
    expect(pass.type).toBe("password");
    expect((byId("sign-toggle") as HTMLInputElement).checked).toBe(true);
    pass.value = "correct horse";
    click(byId("export-eml"));
    await waitFor(() => fake.exportRequests.length === 1, "export");
    expect(fake.exportRequests[0]).toMatchObject({ format: "eml", sign: true, passphrase: "correct horse" });
    expect(fake.passphraseSeenDuringExport).toBe("");
    const bar = await waitFor(() => byId("seal-progress") as HTMLProgressElement | null, "progress bar");
    expect(bar.value).toBe(1);
    const result = await waitFor(() => byId("export-result"), "export result");
    expect(result.textContent).toContain("/tmp/report.eml");
    expect(result.textContent).toContain("Modern OpenPGP");
    expect(result.textContent).not.toContain("SEIPDv2");
    expect(byId("seal-progress")).toBeNull();
  });

  it("copies the armored text and shows mail instructions when no client opens", async () => {
    click(byId("copy-armored"));
    await waitFor(() => fake.copied.length === 1, "copy");
    expect(fake.copied[0]).toBe("-----BEGIN PGP MESSAGE-----");
    click(byId("open-mail"));
    await waitFor(() => document.body.textContent?.includes("too large for a mail link"), "instructions");
    expect(fake.sealRequests).toEqual([
      { sign: true, passphrase: null },
      { sign: true, passphrase: null },
    ]);
  });
});
