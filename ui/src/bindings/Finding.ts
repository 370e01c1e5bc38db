// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type Finding = { field: string, line: number | null, message: string, hint: string | null, };
