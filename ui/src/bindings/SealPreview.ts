// Hand-written to match docs/ipc.md; will be regenerated from Rust by ts-rs.
import type { AttachmentView } from "./AttachmentView";
import type { Format } from "./Format";
import type { RecipientView } from "./RecipientView";
import type { SigningKeyView } from "./SigningKeyView";

export type SealPreview = { 
/**
 * The readable part exactly as the team will see it.
 */
text: string, 
/**
 * Sanitized HTML of the Markdown body.
 */
bodyHtml: string, recipients: Array<RecipientView>, format: Format, signer: SigningKeyView | null, anonymous: boolean, attachments: Array<AttachmentView>, subject: string, to: string | null, };
