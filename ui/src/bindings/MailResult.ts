// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type MailResult = { opened: boolean, instructions: string | null, };
