// Static checks of the front end's security rules (CSP, IPC boundary, no web storage).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const src = join(root, "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const sources = files(src)
  .filter((p) => /\.(ts|svelte|css)$/.test(p) && !p.endsWith(".test.ts"))
  .map((p) => ({ path: relative(src, p).replaceAll("\\", "/"), text: readFileSync(p, "utf8") }));

describe("source rules", () => {
  it("only ipc.ts imports invoke, listen or other Tauri APIs", () => {
    const offenders = sources
      .filter((s) => s.path !== "ipc.ts" && /from\s+["']@tauri-apps\//.test(s.text))
      .map((s) => s.path);
    expect(offenders).toEqual([]);
  });

  it("never uses web storage, cookies, eval or iframes", () => {
    const banned = [/localStorage/, /sessionStorage/, /indexedDB/i, /document\.cookie/, /\beval\s*\(/, /new Function\s*\(/, /<iframe/i];
    for (const s of sources) {
      for (const b of banned) expect(`${s.path}: ${b.test(s.text)}`).toBe(`${s.path}: false`);
    }
  });

  it("has no inline style attributes in markup", () => {
    for (const s of sources.filter((x) => x.path.endsWith(".svelte"))) {
      const markup = s.text.replace(/<script[\s\S]*?<\/script>/g, "").replace(/<style[\s\S]*?<\/style>/g, "");
      expect(`${s.path}: ${/\sstyle\s*=/.test(markup)}`).toBe(`${s.path}: false`);
    }
  });

  it("renders HTML only from the backend's sanitized output", () => {
    const htmlUses = sources.flatMap((s) => [...s.text.matchAll(/\{@html\s+([^}]+)\}/g)].map((m) => `${s.path}: ${m[1].trim()}`));
    expect(htmlUses.sort()).toEqual(["components/MarkdownEditor.svelte: previewHtml", "screens/Review.svelte: preview.bodyHtml"]);
  });

  it("loads nothing from remote URLs", () => {
    for (const s of sources) {
      expect(`${s.path}: ${/url\(\s*["']?https?:|@import\s+["']?https?:|src=["']https?:/.test(s.text)}`).toBe(`${s.path}: false`);
    }
  });

  it("binds no passphrase to component state", () => {
    for (const s of sources) {
      expect(`${s.path}: ${/bind:value=\{[^}]*pass/i.test(s.text)}`).toBe(`${s.path}: false`);
    }
  });
});

describe("index.html", () => {
  const html = readFileSync(join(root, "index.html"), "utf8");

  it("has no inline scripts or event handler attributes", () => {
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/type="module"/);
      expect(attrs).toMatch(/src=/);
      expect(body.trim()).toBe("");
    }
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);
    expect(html).not.toMatch(/<style/i);
  });

  it("is titled Embargo", () => {
    expect(html).toMatch(/<title>Embargo<\/title>/);
  });
});
