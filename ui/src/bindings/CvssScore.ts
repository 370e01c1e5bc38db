// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type CvssScore = { version: string, score: number, severity: string, };
