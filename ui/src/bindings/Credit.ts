// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type Credit = { "kind": "anonymous" } | { "kind": "named", name: string, handle: string | null, } | { "kind": "unset" };
