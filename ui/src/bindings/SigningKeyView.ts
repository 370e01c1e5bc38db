// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
export type SigningKeyView = { fingerprint: string, fingerprintGrouped: string, userIds: Array<string>, protected: boolean, };
