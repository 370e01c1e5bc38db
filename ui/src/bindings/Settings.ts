// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { Theme } from "./Theme";

export type Settings = { theme: Theme, dataDir: string, version: string, tauriVersion: string, sequoiaVersion: string, licenses: Array<string>, };
