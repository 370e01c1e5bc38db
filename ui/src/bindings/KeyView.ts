// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { Format } from "./Format";

export type KeyView = { fingerprint: string, fingerprintGrouped: string, userIds: Array<string>, algorithm: string, encryptionSubkeys: Array<string>, created: string, expires: string | null, version: number, format: Format, problem: string | null, };
