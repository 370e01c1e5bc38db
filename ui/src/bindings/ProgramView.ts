// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { AttestationView } from "./AttestationView";
import type { KeyView } from "./KeyView";
import type { OutOfScopeView } from "./OutOfScopeView";

export type ProgramView = { id: string, name: string, contacts: Array<string>, email: string | null, policyUrl: string | null, intakeUrl: string | null, inScope: Array<string>, reporting: string | null, outOfScope: Array<OutOfScopeView>, attestations: Array<AttestationView>, response: string | null, responseBusinessDays: number | null, credit: string | null, promises: Array<string>, builtin: boolean, 
/**
 * The pinned key, when one is confirmed.
 */
teamKey: KeyView | null, teamKeySource: string | null, };
