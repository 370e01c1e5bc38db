//! Size limits shared by checking, sealing and opening, so that whatever `seal` writes `open` opens.
//!
//! `check` and `seal` refuse a report over these limits with a finding naming the limit; `open`
//! derives its caps on buffered parts (the header block, report.json, researcher.asc) from the same
//! constants and reports input over them as "too large", never as tampering.

/// Longest title, in bytes of UTF-8.
pub const MAX_TITLE_BYTES: usize = 1024;
/// Longest Markdown body, in bytes of UTF-8.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Longest value of any other one-line front-matter field (program, class, cwe, cvss, credit…).
pub const MAX_FIELD_BYTES: usize = 1024;
/// Most entries in a list field (assets, attestations, scope_confirmations).
pub const MAX_LIST_ITEMS: usize = 100;
/// Most attachments in one report.
pub const MAX_ATTACHMENTS: usize = 10_000;
/// Longest attachment name, in bytes of UTF-8 (a file name on Linux is at most 255 bytes).
pub const MAX_ATTACHMENT_NAME_BYTES: usize = 255;
/// Longest sniffed content type written for an attachment.
pub const MAX_CONTENT_TYPE_BYTES: usize = 255;
/// Largest header block of one MIME entity.
pub const MAX_HEADER_BLOCK_BYTES: usize = 64 << 10;
/// Largest researcher.asc carried in a bundle.
pub const MAX_RESEARCHER_KEY_BYTES: usize = 1 << 20;
/// Largest key file read from disk (a team key with many signatures is still far below this).
pub const MAX_KEY_FILE_BYTES: u64 = 16 << 20;
/// Largest report file read (the CLI's `check`/`seal`, the app's "Open report file").
pub const MAX_REPORT_FILE_BYTES: u64 = 64 << 20;

/// Number of one-line fields in report.json (program, title aside).
const ONE_LINE_FIELDS: usize = 10;
/// Number of list fields.
const LIST_FIELDS: usize = 3;
/// What one entry of `attachments` costs beyond its name and type (keys, size, hash, punctuation).
const ATTACHMENT_ENTRY_OVERHEAD: usize = 160;

/// Largest report.json a sealed report can carry.
///
/// Every string is JSON-escaped at most 2× (only `"`, `\` and the line breaks or tabs of the body
/// need escaping: control characters are refused everywhere else), plus pretty-printing overhead.
pub const MAX_REPORT_JSON_BYTES: usize = 2
    * (MAX_TITLE_BYTES
        + MAX_BODY_BYTES
        + ONE_LINE_FIELDS * MAX_FIELD_BYTES
        + LIST_FIELDS * MAX_LIST_ITEMS * (MAX_FIELD_BYTES + 16))
    + MAX_ATTACHMENTS
        * (2 * MAX_ATTACHMENT_NAME_BYTES + MAX_CONTENT_TYPE_BYTES + ATTACHMENT_ENTRY_OVERHEAD)
    + (64 << 10);
