// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { Credit } from "./Credit";

export type ReportDraft = { program: string, title: string, assets: Array<string>, class: string, cwe: string | null, cvss: string | null, severity: string | null, credit: Credit, attestations: Array<string>, scopeConfirmations: Array<string>, body: string, };
