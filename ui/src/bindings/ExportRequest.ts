// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { ExportFormat } from "./ExportFormat";

export type ExportRequest = { format: ExportFormat, path: string, sign: boolean, passphrase: string | null, };
