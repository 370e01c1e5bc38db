// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { Format } from "./Format";

export type RecipientView = { fingerprint: string, fingerprintGrouped: string, userIds: Array<string>, format: Format, };
