import { describe, expect, it } from "vitest";
import { signerText } from "./replies";

describe("signerText", () => {
  it("names the verified signer and flags everything else as not verified", () => {
    const ok = signerText({ kind: "verified", fingerprint: "AB", user_id: "Alice <alice@acme.test>", pinned: true });
    expect(ok.verified).toBe(true);
    expect(ok.text).toContain("Alice <alice@acme.test>");
    expect(ok.text).toContain("pinned");
    expect(signerText({ kind: "unknown_key", issuer: "CD" }).verified).toBe(false);
    expect(signerText({ kind: "bad", reason: "altered" }).text).toContain("BAD");
    expect(signerText({ kind: "not_signed" }).verified).toBe(false);
    expect(signerText({ kind: "no_pinned_key", issuer: null }).verified).toBe(false);
    expect(signerText(null).verified).toBe(false);
  });
});
