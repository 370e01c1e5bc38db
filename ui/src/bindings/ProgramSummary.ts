// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type ProgramSummary = { id: string, name: string, contact: string | null, intakeUrl: string | null, builtin: boolean, teamKeyFingerprint: string | null, };
