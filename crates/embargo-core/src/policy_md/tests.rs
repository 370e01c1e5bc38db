//! Tests of the SECURITY.md importer: Novu's policy, rules of the mapping, a corpus of real files.

use std::fmt::Write as _;

use expect_test::{expect, Expect};

use super::*;

const NOVU_MD: &str = include_str!("../../programs/novu-SECURITY.md");
const NOVU_URL: &str = "https://github.com/novuhq/novu/blob/next/SECURITY.md";

fn import(md: &str) -> ImportedProgram {
    import_security_md(md, "test", None).expect("imports")
}

#[test]
fn novu_policy_reproduces_the_built_in_program() {
    let imported = import_security_md(NOVU_MD, "novu", Some(NOVU_URL)).unwrap();
    let got = &imported.program;
    let want = Program::novu();
    assert_eq!(got.id, want.id);
    assert_eq!(got.name, want.name);
    assert_eq!(got.contacts, want.contacts);
    assert_eq!(got.policy_url, want.policy_url);
    assert_eq!(got.in_scope, want.in_scope);
    assert_eq!(got.reporting, want.reporting);
    for (g, w) in got.out_of_scope.iter().zip(&want.out_of_scope) {
        assert_eq!(g, w);
    }
    assert_eq!(got.out_of_scope.len(), want.out_of_scope.len());
    for (g, w) in got.attestations.iter().zip(&want.attestations) {
        assert_eq!(g, w);
    }
    assert_eq!(got.attestations.len(), want.attestations.len());
    assert_eq!(got.response, want.response);
    assert_eq!(got.credit, want.credit);
    assert_eq!(got.promises, want.promises);
    assert_eq!(got.team_key, None);
    assert_eq!(got.intake_url, None);
    assert_eq!(*got, want);
    assert_eq!(imported.unmapped, []);
    assert_eq!(imported.keys, []);
}

#[test]
fn a_generic_title_names_the_program_after_its_id() {
    let p = import("# Security Policy\n\nMail security@x.org.\n").program;
    assert_eq!(p.name, "Test");
    let p = import("# Security Policy of Formbricks\n\nMail security@x.org.\n").program;
    assert_eq!(p.name, "Formbricks");
    let p = import_security_md("Mail security@x.org.", "trigger-dev", None).unwrap();
    assert_eq!(p.program.name, "Trigger Dev");
}

#[test]
fn out_of_scope_bullets_map_to_classes_with_their_conditions() {
    let md = "## Out of scope\n\n\
        - Self XSS\n\
        - Clickjacking on pages with no sensitive actions\n\
        - Logout CSRF\n\
        - Open redirect\n\
        - HTTP Host Header XSS without working proof-of-concept\n\
        - Rate limiting\n\
        - SQL injection or XSS in the admin panel\n\
        - Missing HSTS\n\
        - Missing CSP header\n\
        - Descriptive error messages\n";
    let imported = import(md);
    let got: Vec<(&str, bool)> = imported
        .program
        .out_of_scope
        .iter()
        .map(|o| (o.class.as_str(), o.condition.is_some()))
        .collect();
    assert_eq!(
        got,
        [
            ("xss", true),
            ("clickjacking", true),
            ("csrf", true),
            ("open-redirect", false),
            ("missing-security-headers", false),
        ]
    );
    let reasons: Vec<(&str, &UnmappedReason)> = imported
        .unmapped
        .iter()
        .map(|u| (u.text.as_str(), &u.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "HTTP Host Header XSS without working proof-of-concept",
                &UnmappedReason::UnknownCondition {
                    class: "xss".into()
                }
            ),
            ("Rate limiting", &UnmappedReason::NoClass),
            (
                "SQL injection or XSS in the admin panel",
                &UnmappedReason::SeveralClasses {
                    classes: vec!["xss".into(), "sqli".into()]
                }
            ),
            (
                "Missing CSP header",
                &UnmappedReason::ClassAlreadyOutOfScope {
                    class: "missing-security-headers".into()
                }
            ),
            ("Descriptive error messages", &UnmappedReason::NoClass),
        ]
    );
    assert!(imported
        .unmapped
        .iter()
        .all(|u| u.section == "Out of scope"));
}

#[test]
fn a_qualified_bullet_never_puts_its_whole_class_out_of_scope() {
    for bullet in [
        "XSS that requires user interaction",
        "CSRF with no or low impact",
        "Clickjacking without a demonstrated impact",
        "Open redirect unless it leaks tokens",
        "DoS only through volumetric attacks",
        "Software version disclosure",
    ] {
        let imported = import(&format!("## Out of scope\n\n- {bullet}\n\nMail a@b.org\n"));
        assert_eq!(imported.program.out_of_scope, [], "{bullet}");
        assert!(
            matches!(
                imported.unmapped[0].reason,
                UnmappedReason::UnknownCondition { .. }
            ),
            "{bullet}: {:?}",
            imported.unmapped
        );
    }
}

#[test]
fn content_spoofing_condition_names_what_the_report_must_show() {
    let one = map_class("Content spoofing without showing an attack vector").unwrap();
    assert_eq!(
        one,
        (
            "content-spoofing",
            Some("The report shows an attack vector.".into())
        )
    );
    let both = map_class(
        "Content spoofing and text injection issues without showing an attack vector/without being able to modify HTML/CSS.",
    )
    .unwrap();
    assert_eq!(
        both.1.as_deref(),
        Some("The report shows an attack vector or the ability to modify HTML/CSS.")
    );
}

#[test]
fn rules_become_attestations_with_stable_ids() {
    let md = "## Rules\n\n\
        - Do not run automated scanners against production.\n\
        - Never access data that does not belong to you.\n\
        - Do not disclose the issue publicly before it is fixed.\n\
        - No phishing or denial of service.\n\
        - Only use accounts you own.\n\
        - Be nice.\n\
        - Do not use scanners or exploit anything.\n\
        - Don't run vulnerability scanners, please.\n";
    let imported = import(md);
    let ids: Vec<&str> = imported
        .program
        .attestations
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ids, RULE_IDS);
    assert_eq!(
        imported.program.attestations[0].wording,
        "Do not run automated scanners against production."
    );
    let reasons: Vec<&UnmappedReason> = imported.unmapped.iter().map(|u| &u.reason).collect();
    assert_eq!(
        reasons,
        [
            &UnmappedReason::NoRuleId,
            &UnmappedReason::SeveralRuleIds {
                ids: vec!["no-automated-scanning".into(), "no-exploitation".into()]
            },
            &UnmappedReason::RuleIdTaken {
                id: "no-automated-scanning".into()
            },
        ]
    );
}

#[test]
fn rules_written_as_prose_are_read_too() {
    let imported = import(
        "## Reporting\n\nMail security@x.org. Please do not use attacks on physical security, \
         social engineering or spam. Please do not open public issues.\n",
    );
    let ids: Vec<&str> = imported
        .program
        .attestations
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ids, ["no-social-engineering-or-dos"]);
    assert_eq!(
        imported.program.attestations[0].wording,
        "Please do not use attacks on physical security, social engineering or spam."
    );
    assert_eq!(imported.unmapped.len(), 1);
    assert_eq!(
        imported.unmapped[0].text,
        "Please do not open public issues."
    );
}

#[test]
fn response_times_are_taken_in_business_days_only() {
    let cases: &[(&str, Option<u32>, usize)] = &[
        ("We will respond within 2 business days.", Some(2), 0),
        ("You will get a reply within five working days.", Some(5), 0),
        ("We will respond within 48 hours.", None, 1),
        ("We acknowledge reports within a week.", None, 1),
        ("We will respond within 1-2 business days.", None, 1),
        ("We will respond within 2 to 3 business days.", None, 1),
        ("We will respond as soon as possible.", None, 0),
        ("We ship fixes within 90 days.", None, 0),
    ];
    for (sentence, days, unmapped) in cases {
        let imported = import(&format!("Mail a@b.org. {sentence}\n"));
        assert_eq!(
            imported.program.response.as_ref().map(|r| r.business_days),
            *days,
            "{sentence}"
        );
        if days.is_some() {
            assert_eq!(imported.program.response.unwrap().wording, *sentence);
        }
        assert_eq!(imported.unmapped.len(), *unmapped, "{sentence}");
    }
}

#[test]
fn a_promise_section_keeps_unclear_promises_and_says_so() {
    let md = "## What we promise\n\n\
        - We will respond within 48 hours.\n\
        - We will respond within 3 business days.\n\
        - With your permission, we will credit you in the advisory.\n\
        - We will not sue you.\n";
    let imported = import(md);
    let p = &imported.program;
    assert_eq!(p.response.as_ref().map(|r| r.business_days), Some(3));
    assert_eq!(p.credit, None);
    let promises: Vec<&str> = p.promises.iter().map(|p| p.wording.as_str()).collect();
    assert_eq!(
        promises,
        [
            "We will respond within 48 hours.",
            "With your permission, we will credit you in the advisory.",
            "We will not sue you.",
        ]
    );
    let reasons: Vec<&UnmappedReason> = imported.unmapped.iter().map(|u| &u.reason).collect();
    assert_eq!(
        reasons,
        [
            &UnmappedReason::ResponseNotInBusinessDays {
                kept_as_promise: true
            },
            &UnmappedReason::CreditUnclear {
                kept_as_promise: true
            },
        ]
    );
    expect![[
        r#"response time not in business days; no response deadline set (kept as a promise)"#
    ]]
    .assert_eq(&imported.unmapped[0].reason.to_string());
}

#[test]
fn the_first_business_day_response_wins_and_later_ones_are_shown() {
    let md = "## What to expect\n\n\
        - Acknowledgement: within 2 business days.\n\
        - Triage: within 5 business days.\n";
    let imported = import(md);
    assert_eq!(imported.program.response.as_ref().unwrap().business_days, 2);
    assert_eq!(
        imported.unmapped[0].reason,
        UnmappedReason::SecondResponseTime {
            taken: 2,
            kept_as_promise: true
        }
    );
}

#[test]
fn credit_is_taken_only_when_clear() {
    for (sentence, want) in [
        ("We will credit you in the advisory.", Some("credited")),
        (
            "We credit reporters unless you ask to remain anonymous.",
            Some("credited"),
        ),
        ("Reporters will not be credited.", Some("none")),
        ("We may credit you at our discretion.", None),
        ("If you would like to be named, tell us.", None),
    ] {
        let imported = import(&format!("Mail a@b.org. {sentence}\n"));
        assert_eq!(
            imported.program.credit.as_ref().map(|c| c.default.as_str()),
            want,
            "{sentence}"
        );
        assert_eq!(imported.unmapped.len(), usize::from(want.is_none()));
    }
}

#[test]
fn contacts_come_from_addresses_links_and_report_forms() {
    let md = "Write to [us](mailto:sec@a.org?subject=x), <b@c.org>, `d@e.io` or plain f@g.net.\n\
        Or <a href=\"mailto:h@i.org\">h@i.org</a>.\n\n\
        - [Report](https://github.com/o/r/security/advisories/new)\n\
        - https://hackerone.com/acme\n\
        - [public issue](https://github.com/o/r/issues/new)\n\
        - [@nick](https://matrix.to/#/@nick:matrix.org)\n\
        - [form](https://example.com/security/report-vulnerability)\n\n\
        ```\nnot@in-code.org\n```\n<!-- old@comment.org -->\n";
    let p = import(md).program;
    assert_eq!(
        p.contacts,
        [
            "mailto:sec@a.org",
            "mailto:b@c.org",
            "mailto:d@e.io",
            "mailto:f@g.net",
            "mailto:h@i.org",
            "https://github.com/o/r/security/advisories/new",
            "https://hackerone.com/acme",
            "https://example.com/security/report-vulnerability",
        ]
    );
}

#[test]
fn keys_are_hinted_never_pinned() {
    let md = "Mail a@b.org.\n\n\
        Fingerprint: `AE96 ED96 9E47 9B00 84F3  E17F E88D 3334 FA5F 6A0A`\n\n\
        Key: 2dd15b4bbc0ffb1aef056662182b59a2d78d7303 ([download](https://x.org/key.asc))\n\n\
        > -----BEGIN PGP PUBLIC KEY BLOCK-----\n> \n> abc\n> -----END PGP PUBLIC KEY BLOCK-----\n";
    let imported = import(md);
    assert_eq!(imported.program.team_key, None);
    assert_eq!(
        imported.keys,
        [
            KeyHint::Fingerprint("AE96ED969E479B0084F3E17FE88D3334FA5F6A0A".into()),
            KeyHint::Fingerprint("2DD15B4BBC0FFB1AEF056662182B59A2D78D7303".into()),
            KeyHint::Url("https://x.org/key.asc".into()),
            KeyHint::Armored(
                "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n"
                    .into()
            ),
        ]
    );
}

#[test]
fn unmapped_items_and_key_hints_serialize_for_the_cli_and_the_app() {
    let imported = import(
        "## Out of scope\n\n- Rate limiting\n- SQL injection or XSS\n\nFingerprint: \
         2DD15B4BBC0FFB1AEF056662182B59A2D78D7303\n",
    );
    expect![[r#"[{"section":"Out of scope","text":"Rate limiting","reason":{"code":"no_class"}},{"section":"Out of scope","text":"SQL injection or XSS","reason":{"code":"several_classes","classes":["xss","sqli"]}}]"#]]
    .assert_eq(&serde_json::to_string(&imported.unmapped).unwrap());
    expect![[r#"[{"kind":"fingerprint","value":"2DD15B4BBC0FFB1AEF056662182B59A2D78D7303"}]"#]]
        .assert_eq(&serde_json::to_string(&imported.keys).unwrap());
    expect!["names several classes (xss, sqli)"]
        .assert_eq(&imported.unmapped[1].reason.to_string());
}

#[test]
fn errors_name_the_input() {
    let err = import_security_md("Mail a@b.org", "Not An Id", None).unwrap_err();
    expect![[r#"invalid program id `Not An Id`: use 1 to 64 lower-case letters, digits and single dashes"#]]
        .assert_eq(&err.to_string());
    let err =
        import_security_md("# Hello\n\nJust a readme.\n", "x", Some("README.md")).unwrap_err();
    expect![[
        r#"README.md: no contact, scope, rule, promise or key found; is this a SECURITY.md?"#
    ]]
    .assert_eq(&err.to_string());
    let big = "a".repeat(MAX_IMPORT_BYTES + 1);
    let err = import_security_md(&big, "x", Some("huge.md")).unwrap_err();
    expect![[
        r#"huge.md: 1048577 bytes is more than the 1048576 bytes a SECURITY.md import reads"#
    ]]
    .assert_eq(&err.to_string());
}

#[test]
fn only_https_sources_become_the_policy_url() {
    let md = "Mail a@b.org\n";
    let p = import_security_md(md, "x", Some("/home/me/SECURITY.md")).unwrap();
    assert_eq!(p.program.policy_url, None);
    let p = import_security_md(md, "x", Some("http://x.org/SECURITY.md")).unwrap();
    assert_eq!(p.program.policy_url, None);
    let p = import_security_md(md, "x", Some("https://x.org/SECURITY.md")).unwrap();
    assert_eq!(
        p.program.policy_url.as_deref(),
        Some("https://x.org/SECURITY.md")
    );
}

#[test]
fn odd_inputs_do_not_panic() {
    let nasty = [
        "",
        "@",
        "@@@.",
        "a@",
        "é@é.é",
        "- ",
        "**",
        "> - > - > - x:",
        "| a |\n|---|\n| b@c.de |",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\nno end",
        "# Out of scope\n\n- \u{0}\n- ç\n- .. \n",
        "1. **x**<br>\n   - y:\n     - z\n",
        "within business days respond 1- business days ----",
        "## What we promise\n\n| a | b |\n|---|---|\n| respond | 48-hour |\n",
        "[x](mailto:)",
        "[x](https://)",
        "https:// https://a https://hackerone.com/",
        "e.g. A. B! C? D",
    ];
    for input in nasty {
        fuzz_import(input.as_bytes());
    }
    let mut long = String::new();
    for _ in 0..2000 {
        long.push_str("> - ");
    }
    fuzz_import(long.as_bytes());
}

#[test]
fn mutated_policies_do_not_panic() {
    // A deterministic stand-in for the fuzz target on the stable toolchain: byte flips,
    // truncations and splices of real policies.
    let seeds: Vec<Vec<u8>> = corpus().map(|(_, text)| text.into_bytes()).collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..600 {
        let seed = &seeds[round % seeds.len()];
        let mut data = seed.clone();
        for _ in 0..(next() % 8 + 1) {
            if data.is_empty() {
                break;
            }
            let at = (next() as usize) % data.len();
            match next() % 4 {
                0 => data[at] = next() as u8,
                1 => data.truncate(at),
                2 => {
                    let other = &seeds[(next() as usize) % seeds.len()];
                    let from = (next() as usize) % other.len().max(1);
                    let chunk = &other[from..other.len().min(from + 200)];
                    data.splice(at..at, chunk.iter().copied());
                }
                _ => {
                    let b = *b"-*>:|`#\n[]()<";
                    data.insert(at, b[(next() as usize) % b.len()]);
                }
            }
        }
        fuzz_import(&data);
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus: real SECURITY.md files (tests/data/security-md, sources in SOURCES.md).

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/security-md")
}

fn corpus() -> impl Iterator<Item = (String, String)> {
    let mut names: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("tests/data/security-md")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md") && n != "SOURCES.md")
        .collect();
    names.sort();
    names.into_iter().map(|n| {
        let text = std::fs::read_to_string(corpus_dir().join(&n)).unwrap();
        (n, text)
    })
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// A readable summary of an import, for the snapshots.
fn summary(imported: &ImportedProgram) -> String {
    let p = &imported.program;
    let mut s = String::new();
    writeln!(s, "name: {}", p.name).unwrap();
    writeln!(s, "contacts: {}", p.contacts.join(" ")).unwrap();
    for key in &imported.keys {
        match key {
            KeyHint::Fingerprint(f) => writeln!(s, "key: fingerprint {f}"),
            KeyHint::Url(u) => writeln!(s, "key: url {u}"),
            KeyHint::Armored(a) => writeln!(s, "key: armored, {} lines", a.lines().count()),
        }
        .unwrap();
    }
    for item in &p.in_scope {
        writeln!(s, "in scope: {}", short(item, 60)).unwrap();
    }
    if let Some(r) = &p.reporting {
        writeln!(
            s,
            "reporting: {} lines: {}",
            r.lines().count(),
            short(r, 60)
        )
        .unwrap();
    }
    for o in &p.out_of_scope {
        let cond = if o.condition.is_some() {
            " (conditional)"
        } else {
            ""
        };
        writeln!(
            s,
            "out of scope: {}{cond}: {}",
            o.class,
            short(&o.wording, 50)
        )
        .unwrap();
    }
    for a in &p.attestations {
        writeln!(s, "attestation: {}: {}", a.id, short(&a.wording, 50)).unwrap();
    }
    if let Some(r) = &p.response {
        writeln!(
            s,
            "response: {} business days: {}",
            r.business_days,
            short(&r.wording, 50)
        )
        .unwrap();
    }
    if let Some(c) = &p.credit {
        writeln!(s, "credit: {}: {}", c.default, short(&c.wording, 50)).unwrap();
    }
    for pr in &p.promises {
        writeln!(s, "promise: {}", short(&pr.wording, 60)).unwrap();
    }
    for u in &imported.unmapped {
        let code = serde_json::to_value(&u.reason).unwrap()["code"]
            .as_str()
            .unwrap()
            .to_owned();
        writeln!(
            s,
            "unmapped [{code}] {}: {}",
            short(&u.section, 30),
            short(&u.text, 60)
        )
        .unwrap();
    }
    s
}

fn check(name: &str, id: &str, expect: Expect) -> ImportedProgram {
    let text = std::fs::read_to_string(corpus_dir().join(name)).unwrap();
    let imported = import_security_md(&text, id, Some(name)).unwrap();
    expect.assert_eq(&summary(&imported));
    imported
}

#[test]
fn corpus_bitcoin() {
    check(
        "bitcoin.md",
        "bitcoin",
        expect![[r#"
            name: Bitcoin
            contacts: mailto:security@bitcoincore.org
            key: fingerprint 133EAC179436F14A5CF1B794860FEB804E669320
        "#]],
    );
}

#[test]
fn corpus_chatwoot() {
    check(
        "chatwoot.md",
        "chatwoot",
        expect![[r#"
            name: Chatwoot
            contacts: mailto:security@chatwoot.com https://huntr.dev/bounties/disclose
            out of scope: missing-security-headers: Missing HTTP security headers
            out of scope: xss (conditional): Self XSS
            out of scope: email-spoofing: Incomplete/Missing SPF/DKIM
            out of scope: dos: Denial of Service attacks
            unmapped [no_rule_id] Out of scope: Please do not perform testing against Chatwoot production se…
            unmapped [unknown_condition] Out of scope: HTTP Host Header XSS without working proof-of-concept
            unmapped [class_already_out_of_scope] Out of scope: DNSSEC
            unmapped [no_class] Out of scope: Social Engineering attacks
        "#]],
    );
}

#[test]
fn corpus_documenso() {
    check(
        "documenso.md",
        "documenso",
        expect![[r#"
            name: Documenso
            contacts: mailto:security@documenso.com https://github.com/documenso/documenso/security/advisories/new
            in scope: The code in this repository.
            in scope: Official release artifacts (binaries, container images) publ…
            in scope: Configuration defaults shipped in this repository.
            reporting: 5 lines: In your report, please include:
            - A clear description of the…
            response: 5 business days: Acknowledgement: within 5 business days.
            credit: credited: We will credit reporters in the published advisory…
            promise: Triage and initial assessment: within 7 business days, inclu…
            promise: Status updates: at least every 14 days while the report is o…
            promise: Fix and coordinated disclosure: the embargo length depends o…
            unmapped [no_rule_id] Reporting a vulnerability › Pl…: Please do not open a public issue, discussion, or pull reque…
            unmapped [second_response_time] What to expect: Triage and initial assessment: within 7 business days, inclu…
            unmapped [no_class] Scope › Out of scope (please r…: Vulnerabilities in third-party dependencies that are not rea…
            unmapped [no_class] Scope › Out of scope (please r…: Issues in users' self-hosted infrastructure that are unrelat…
            unmapped [no_class] Scope › Out of scope (please r…: Reports generated solely by automated scanners with no demon…
        "#]],
    );
}

#[test]
fn corpus_formbricks() {
    check(
        "formbricks.md",
        "formbricks",
        expect![[r#"
            name: Formbricks
            contacts: mailto:security@formbricks.com
            reporting: 6 lines: Include:
            - Problem description.
            - Detailed, reproducible ste…
            attestation: no-social-engineering-or-dos: Please do not use attacks on physical security, so…
            attestation: confidential-until-fixed: Do not reveal the problem to others until it has b…
            promise: We appreciate your patience as we explore the reported item,…
            unmapped [unknown_section] I. Third-Party Data Usage Poli…: Rigorous vetting of third-party services to confirm adherenc…
            unmapped [unknown_section] I. Third-Party Data Usage Poli…: Continuous monitoring and assessment of third-party practice…
            unmapped [unknown_section] I. Third-Party Data Usage Poli…: Immediate action to mitigate risks if a third-party deviates…
            unmapped [unknown_section] II. Annual Penetration Testing…: Annual penetration testing executed by an independent, skill…
            unmapped [unknown_section] II. Annual Penetration Testing…: Prioritization of any identified issues, with immediate acti…
            unmapped [unknown_section] II. Annual Penetration Testing…: Transparent communication and learnings shared with relevant…
            unmapped [credit_unclear] III. Vulnerability Reporting a…: Public credit for your finding is available on request — see…
            unmapped [no_rule_id] A. When to Report a Vulnerabil…: A potential security vulnerability in Formbricks is identifi…
            unmapped [no_rule_id] A. When to Report a Vulnerabil…: There is uncertainty about how a vulnerability affects our p…
            unmapped [no_rule_id] A. When to Report a Vulnerabil…: A vulnerability is detected in a dependent project of Formbr…
            unmapped [no_rule_id] A. When to Report a Vulnerabil…: An action was executed which, in your belief, should be rest…
            unmapped [no_rule_id] B. When Reporting is Unnecessa…: Assistance is needed to optimize Formbricks for security – p…
            unmapped [no_rule_id] B. When Reporting is Unnecessa…: Help is required for applying security-related updates.
            unmapped [no_rule_id] B. When Reporting is Unnecessa…: The concern is not related to security.
            unmapped [response_not_in_business_days] C. Vulnerability Reporting Pro…: Our security team will acknowledge receipt and provide an in…
            unmapped [no_rule_id] C. Vulnerability Reporting Pro…: Following verification of the vulnerability and the fix, a r…
            unmapped [no_rule_id] C. Vulnerability Reporting Pro…: A project maintainer may engage with you for additional deta…
            unmapped [unknown_section] D. Bug Bounties and Credit › F…: We do not pay bounties, rewards, gift cards, or goodwill pay…
            unmapped [unknown_section] D. Bug Bounties and Credit › F…: We have offered both a bounty and one-off payments in the pa…
            unmapped [unknown_section] D. Bug Bounties and Credit › F…: Please do not attach an invoice, a payment request, or a pay…
            unmapped [credit_unclear] D. Bug Bounties and Credit › F…: If you would like to be named, tell us in your report or at …
            unmapped [credit_unclear] Please Read the below carefull…: If you have followed the instructions above, we will not tak…
        "#]],
    );
}

#[test]
fn corpus_go_ethereum() {
    let imported = check(
        "go-ethereum.md",
        "go-ethereum",
        expect![[r#"
            name: Go Ethereum
            contacts: mailto:bounty@ethereum.org
            key: fingerprint AE96ED969E479B0084F3E17FE88D3334FA5F6A0A
            key: armored, 144 lines
            unmapped [no_rule_id] Reporting a Vulnerability: Please do not file a public ticket mentioning the vulnerabil…
        "#]],
    ); // The armored block is the key the fingerprint names (the file's END line has six dashes).
    let [KeyHint::Fingerprint(fpr), KeyHint::Armored(armor)] = imported.keys.as_slice() else {
        panic!("{:?}", imported.keys);
    };
    let certs = crate::keys::parse_certs(armor.as_bytes(), "go-ethereum.md key").unwrap();
    assert_eq!(certs[0].fingerprint().to_hex(), *fpr);
}

#[test]
fn corpus_keepassxc() {
    check(
        "keepassxc.md",
        "keepassxc",
        expect![[r#"
            name: Keepassxc
            contacts: https://github.com/keepassxreboot/keepassxc/security/advisories/new
            unmapped [credit_unclear] Reporting Security Issues: We will make every effort to acknowledge your contributions …
            unmapped [no_usable_contact] Reporting Security Issues › Pr…: @droidmonkey_kpxc
            unmapped [no_usable_contact] Reporting Security Issues › Pr…: @varjolintu
            unmapped [no_usable_contact] Reporting Security Issues › Pr…: @phoerious
            unmapped [no_rule_id] Reporting Security Issues › To…: Please do not use public channels (e.g., GitHub issues) for …
            unmapped [no_usable_contact] Reporting Security Issues › Fo…: User's Channel: #keepassxc:mozilla.org
            unmapped [no_usable_contact] Reporting Security Issues › Fo…: Developer's Channel: #keepassxc-dev:mozilla.org
        "#]],
    );
}

#[test]
fn corpus_mastodon() {
    check(
        "mastodon.md",
        "mastodon",
        expect![[r#"
            name: Mastodon
            contacts: mailto:security@joinmastodon.org https://github.com/mastodon/mastodon/security/advisories/new
            unmapped [no_rule_id] Security Policy › If you belie…: You should not report such issues on public GitHub issues or…
        "#]],
    );
}

#[test]
fn corpus_nocodb() {
    check(
        "nocodb.md",
        "nocodb",
        expect![[r#"
            name: Nocodb
            contacts: mailto:security@nocodb.com
            response: 7 business days: You will receive a response from us within 7 worki…
            promise: If the issue is confirmed, we will release a patch as soon a…
        "#]],
    );
}

#[test]
fn corpus_plane() {
    check(
        "plane.md",
        "plane",
        expect![[r#"
            name: Plane
            contacts: mailto:security@gizmo.so
            reporting: 2 lines: Ensure your report includes all relevant information needed …
            out of scope: mitm: Vulnerabilities requiring man-in-the-middle (MITM)…
            out of scope: content-spoofing (conditional): Content spoofing or text injection issues without …
            out of scope: email-spoofing: Issues related to email spoofing.
            out of scope: missing-security-headers: Missing DNSSEC, CAA, or CSP headers.
            out of scope: cookie-flags (conditional): Absence of secure or HTTP-only flags on non-sensit…
            attestation: confidential-until-fixed: Maintain confidentiality and refrain from publicly…
            attestation: no-automated-scanning: Refrain from running automated vulnerability scans…
            attestation: no-exploitation: Do not exploit any discovered vulnerabilities for …
            attestation: no-social-engineering-or-dos: Do not engage in physical security attacks, social…
            response: 3 business days: We will acknowledge receipt of your vulnerability …
            promise: We will not initiate legal action against you for reporting …
            promise: Your report will be treated with confidentiality. We will no…
            promise: With your permission, we are happy to publicly acknowledge y…
            promise: We are committed to working closely with you throughout the …
            unmapped [credit_unclear] Our commitment › At Gizmo, we …: With your permission, we are happy to publicly acknowledge y…
        "#]],
    );
}

#[test]
fn corpus_tokio() {
    check(
        "tokio.md",
        "tokio",
        expect![[r#"
            name: Tokio
            contacts: mailto:security@tokio.rs
        "#]],
    );
}

#[test]
fn corpus_trigger_dev() {
    check(
        "trigger-dev.md",
        "trigger-dev",
        expect![[r#"
            name: Trigger Dev
            contacts: mailto:security@trigger.dev https://github.com/triggerdotdev/trigger.dev/security/advisories/new
            reporting: 5 lines: Please include as much of the following as you can:
            - A desc…
            response: 3 business days: Acknowledgement of your report: within 3 business …
            credit: credited: Once a fix is released we publish a GitHub Securit…
            unmapped [no_rule_id] Reporting a vulnerability: Please do not report security vulnerabilities through public…
        "#]],
    );
}

#[test]
fn corpus_typescript() {
    check(
        "typescript.md",
        "typescript",
        expect![[r#"
            name: Typescript
            contacts: mailto:secure@microsoft.com https://aka.ms/security.md/msrc/create-report
            key: url https://aka.ms/security.md/msrc/pgp
            reporting: 8 lines: Please include the requested information listed below (as mu…
            unmapped [no_rule_id] Reporting Security Issues: Please do not report security vulnerabilities through public…
            unmapped [response_not_in_business_days] Reporting Security Issues: You should receive a response within 24 hours.
        "#]],
    );
}
