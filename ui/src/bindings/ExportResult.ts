// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { Format } from "./Format";

export type ExportResult = { path: string, format: Format, recipients: Array<string>, signer: string | null, bytes: number, };
