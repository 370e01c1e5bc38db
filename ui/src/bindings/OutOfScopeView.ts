// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type OutOfScopeView = { class: string, className: string, wording: string, condition: string | null, };
