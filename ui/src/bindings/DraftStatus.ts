// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { CvssScore } from "./CvssScore";
import type { Finding } from "./Finding";
import type { ReportDraft } from "./ReportDraft";

export type DraftStatus = { draft: ReportDraft, findings: Array<Finding>, cvss: CvssScore | null, severity: string | null, 
/**
 * No field errors and a confirmed team key.
 */
readyToSeal: boolean, };
