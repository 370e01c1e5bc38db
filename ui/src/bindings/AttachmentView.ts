// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type AttachmentView = { id: number, name: string, size: number, contentType: string, sha256: string, };
