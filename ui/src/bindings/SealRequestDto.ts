// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type SealRequestDto = { sign: boolean, passphrase: string | null, };
