// How a reply's signer is said, in the researcher's Sent screen and the team's Inbox thread:
// the backend's verdict (embargo-core's ReplySigner) in words.
import type { ReplySigner } from "../bindings/ReplySigner";

export function signerText(s: ReplySigner | null): { text: string; verified: boolean } {
  if (s === null) return { text: "Not checked.", verified: false };
  switch (s.kind) {
    case "verified":
      return {
        text: `Signed by ${s.pinned ? "the team's pinned key" : "a team key the report was sealed to"}${s.user_id ? ` — ${s.user_id}` : ""}.`,
        verified: true,
      };
    case "unknown_key":
      return {
        text: `Not verified: signed by ${s.issuer}, which is none of the team's keys for this report. It may not come from the team.`,
        verified: false,
      };
    case "bad":
      return { text: `Not verified: the signature is BAD (${s.reason}). The text may have been altered.`, verified: false };
    case "not_signed":
      return { text: "Not verified: the reply is not signed. It may not come from the team.", verified: false };
    case "no_pinned_key":
      return { text: "Not verified: no team key is known for this report, so the signature cannot be checked.", verified: false };
  }
}
