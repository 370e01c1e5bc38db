import { describe, expect, it } from "vitest";
import { baseName, isKeyFile } from "./files";

describe("isKeyFile", () => {
  it("accepts .asc and .pgp (and .gpg/.key) in any case", () => {
    for (const p of ["/home/me/team.asc", "C:\\keys\\TEAM.PGP", "k.gpg", "security.key"]) expect(isKeyFile(p)).toBe(true);
  });
  it("refuses other files", () => {
    for (const p of ["/tmp/shot.png", "notes.txt", "asc", "/tmp/key.asc.txt"]) expect(isKeyFile(p)).toBe(false);
  });
});

describe("baseName", () => {
  it("takes the last path component for either separator", () => {
    expect(baseName("/a/b/c.txt")).toBe("c.txt");
    expect(baseName("C:\\a\\b.png")).toBe("b.png");
    expect(baseName("plain")).toBe("plain");
  });
});
