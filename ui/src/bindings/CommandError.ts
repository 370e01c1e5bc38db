// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type CommandError = { code: string, message: string, hint: string | null, };
