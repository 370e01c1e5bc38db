// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { KeyView } from "./KeyView";

export type KeyCandidate = { key: KeyView, pinned: string | null, differsFromPinned: boolean, };
