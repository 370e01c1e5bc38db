// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type ClassView = { id: string, name: string, cwe: string | null, };
