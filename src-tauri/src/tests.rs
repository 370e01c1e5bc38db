//! Every command through Tauri's IPC on the mock runtime, with the real capability and ACL.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use embargo_core::openpgp::cert::CertBuilder;
use embargo_core::store::Store;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use crate::picker::{Purpose, ScriptedPicker};
use crate::AppState;

struct Harness {
    _app: App<MockRuntime>,
    main: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
    /// What the next file dialogs answer.
    picks: Arc<Mutex<Vec<PathBuf>>>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::builder(
        mock_builder(),
        AppState::new(Store::at(dir.path().join("data"))),
    )
    .build(tauri::generate_context!())
    .expect("app builds on the mock runtime");
    let picks: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
    app.state::<AppState>()
        .set_picker(Box::new(ScriptedPicker::new(Arc::clone(&picks))));
    app.state::<AppState>()
        .set_opener(Box::new(crate::opener::RecordingOpener {
            log: dir.path().join("opened.log"),
        }));
    let main = crate::main_window(&app).unwrap();
    Harness {
        _app: app,
        main,
        dir,
        picks,
    }
}

fn call(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    tauri::test::get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

impl Harness {
    fn ok(&self, cmd: &str, args: Value) -> Value {
        call(&self.main, cmd, args).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }
    fn err(&self, cmd: &str, args: Value) -> Value {
        match call(&self.main, cmd, args) {
            Ok(v) => panic!("{cmd} should fail, returned {v}"),
            Err(e) => e,
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// What the backend handed to the system's opener, one per line.
    fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("opened.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
    /// The next file dialog answers this.
    fn pick(&self, path: impl AsRef<Path>) {
        self.picks.lock().unwrap().push(path.as_ref().to_owned());
    }
}

fn team_cert() -> (String, String, embargo_core::openpgp::Cert) {
    let (cert, _) = CertBuilder::general_purpose(Some("Novu Security <security@novu.co>"))
        .generate()
        .unwrap();
    (
        embargo_core::keys::armored_public(&cert),
        cert.fingerprint().to_hex(),
        cert,
    )
}

fn ready_draft() -> Value {
    json!({
        "schema": 1, "program": "novu", "title": "IDOR in workflows", "assets": ["https://api.novu.co/v1/workflows", " "],
        "class": "idor", "cwe": "CWE-639", "cvss": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", "severity": null,
        "credit": {"name": "Ada", "handle": "@ada"},
        "attestations": ["no-automated-scanning", "no-exploitation", "confidential-until-fixed", "no-social-engineering-or-dos"],
        "scope_confirmations": [], "reference": "EMB-7K2Q-9XDA", "body": "## Steps to reproduce\n\n1. GET it.\n"
    })
}

fn spaced(fpr: &str) -> String {
    fpr.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join("  ")
}

#[test]
fn programs_keys_and_pinning() {
    let h = harness();
    let list = h.ok("list_programs", json!({}));
    let novu = &list["programs"][0];
    assert_eq!(novu["program"]["id"], "novu");
    assert_eq!(novu["email"], "security@novu.co");
    assert_eq!(novu["teamKey"], Value::Null);
    assert_eq!(list["broken"], json!([]));
    let novu = h.ok("get_program", json!({"id": "novu"}));
    assert_eq!(novu["program"]["response"]["business_days"], 3);
    assert!(novu["program"]["out_of_scope"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["class"] == "dos" && o["condition"].is_null()));
    assert_eq!(
        h.err("get_program", json!({"id": "nope"}))["code"],
        "not_found"
    );
    assert_eq!(
        h.err("get_program", json!({"id": "../../etc"}))["code"],
        "invalid_input"
    );

    let (armored, fpr, _) = team_cert();
    let candidate = h.ok(
        "inspect_team_key",
        json!({"programId": "novu", "armored": armored}),
    );
    assert_eq!(candidate["key"]["fingerprint"], fpr);
    assert_eq!(candidate["key"]["format"], "SEIPDv1");
    assert_eq!(candidate["differs_from_pinned"], false);
    assert_eq!(
        candidate["key"]["fingerprint_grouped"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        10
    );
    // The user types what the team published; a wrong one is refused in the backend.
    let err = h.err(
        "confirm_team_key",
        json!({"programId": "novu", "candidate": fpr, "typedFingerprint": "0000", "replace": false}),
    );
    assert_eq!(err["code"], "invalid_input");
    let err = h.err(
        "confirm_team_key",
        json!({"programId": "novu", "candidate": fpr, "typedFingerprint": "AB".repeat(20), "replace": false}),
    );
    assert_eq!(err["code"], "fingerprint_mismatch");
    let pinned = h.ok(
        "confirm_team_key",
        json!({"programId": "novu", "candidate": fpr, "typedFingerprint": spaced(&fpr), "replace": false}),
    );
    assert_eq!(pinned["teamKey"]["fingerprint"], fpr);
    assert_eq!(pinned["program"]["team_keys"][0]["source"], "pasted");
    // Shared with the CLI: it is in the data directory.
    let store = Store::at(h.dir.path().join("data"));
    assert_eq!(store.program("novu").unwrap().team_keys[0].fingerprint, fpr);

    // A different key later, from a file the user picked: loud, and never a silent swap.
    let (other, other_fpr, _) = team_cert();
    std::fs::write(h.path("other.asc"), &other).unwrap();
    h.pick(h.path("other.asc"));
    let c = h.ok(
        "choose_team_key_file",
        json!({"programId": "novu", "dropped": null}),
    );
    assert_eq!(c["differs_from_pinned"], true);
    assert_eq!(c["pinned"], fpr);
    let e = h.err(
        "confirm_team_key",
        json!({"programId": "novu", "candidate": other_fpr, "typedFingerprint": other_fpr, "replace": false}),
    );
    assert_eq!(e["code"], "key_changed");
    assert_eq!(
        h.ok(
            "confirm_team_key",
            json!({"programId": "novu", "candidate": other_fpr, "typedFingerprint": other_fpr, "replace": true})
        )["teamKey"]["fingerprint"],
        other_fpr
    );
    // A cancelled dialog is not an error.
    assert_eq!(
        h.ok(
            "choose_team_key_file",
            json!({"programId": "novu", "dropped": null})
        ),
        Value::Null
    );

    // Unusable keys come back with the core's specific reason and cannot be confirmed.
    let (sign_only, _) = CertBuilder::new()
        .add_userid("s")
        .add_signing_subkey()
        .generate()
        .unwrap();
    let c = h.ok(
        "inspect_team_key",
        json!({"programId": "novu", "armored": embargo_core::keys::armored_public(&sign_only)}),
    );
    assert!(
        c["key"]["problem"]
            .as_str()
            .unwrap()
            .contains("no encryption-capable subkey"),
        "{c}"
    );
    // An unusable key is shown with its reason but never offered: it cannot be confirmed.
    let e = h.err(
        "confirm_team_key",
        json!({"programId": "novu", "candidate": sign_only.fingerprint().to_hex(), "typedFingerprint": sign_only.fingerprint().to_hex(), "replace": true}),
    );
    assert_eq!(e["code"], "not_found");
    assert!(e["hint"].is_string());
    // Offered keys are the core's candidates, stored with the program (the CLI sees them too).
    let novu = h.ok("get_program", json!({"id": "novu"}));
    assert_eq!(
        novu["offered"],
        json!([]),
        "the pinned key is no longer offered"
    );
    assert_eq!(novu["discoveryDomain"], "novu.co");
    assert_eq!(
        h.err(
            "inspect_team_key",
            json!({"programId": "novu", "armored": "garbage"})
        )["code"],
        "invalid_input"
    );

    let added = h.ok(
        "add_program",
        json!({"name": "Acme", "contact": "sec@acme.example", "intakeUrl": null}),
    );
    assert_eq!(added["email"], "sec@acme.example");
    assert_eq!(
        h.ok("list_programs", json!({}))["programs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A broken program file is named, and does not hide the others.
    std::fs::write(h.path("data/programs/broken.toml"), "id = 3").unwrap();
    let list = h.ok("list_programs", json!({}));
    assert_eq!(list["programs"].as_array().unwrap().len(), 2);
    assert!(
        list["broken"][0].as_str().unwrap().contains("broken.toml"),
        "{list}"
    );
}

#[test]
fn draft_validation_cvss_and_markdown() {
    let h = harness();
    let s = h.ok("get_draft", json!({}));
    assert_eq!(s["draft"]["program"], "novu");
    assert!(s["draft"]["reference"]
        .as_str()
        .unwrap()
        .starts_with("EMB-"));
    assert_eq!(s["readyToSeal"], false);
    let fields: Vec<&str> = s["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"title") && fields.contains(&"assets") && fields.contains(&"credit"),
        "{fields:?}"
    );

    let mut draft = ready_draft();
    draft["class"] = json!("dos");
    draft["cvss"] = json!("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:Q");
    let s = h.ok("update_draft", json!({"draft": draft}));
    let codes: Vec<&str> = s["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["invalid_cvss", "out_of_scope"], "{s}");
    assert_eq!(s["readyToSeal"], false, "no team key and a bad vector");

    let s = h.ok("update_draft", json!({"draft": ready_draft()}));
    assert!(s["findings"].as_array().unwrap().is_empty(), "{s}");
    assert_eq!(s["cvss"]["score"], 6.5);
    assert_eq!(s["severity"], "medium");
    assert_eq!(
        s["draft"]["assets"],
        json!(["https://api.novu.co/v1/workflows"]),
        "blank rows dropped"
    );
    assert_eq!(
        h.ok("get_draft", json!({}))["draft"]["title"],
        "IDOR in workflows"
    );
    // A control character in the title is a finding, not a surprise in the team's terminal.
    let mut evil = ready_draft();
    evil["title"] = json!("IDOR\u{1b}[2K");
    let s = h.ok("update_draft", json!({"draft": evil}));
    assert_eq!(s["findings"][0]["code"], "control_character");

    assert_eq!(
        h.ok(
            "cvss_score",
            json!({"vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"})
        )["score"],
        9.3
    );
    assert_eq!(
        h.err("cvss_score", json!({"vector": "nope"}))["code"],
        "invalid_input"
    );
    let html = h.ok(
        "render_markdown",
        json!({"markdown": "**b** <script>x</script>"}),
    );
    assert_eq!(html.as_str().unwrap().trim(), "<p><strong>b</strong> </p>");
    assert!(h
        .ok("list_classes", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "idor"));
}

fn pin_team(h: &Harness) -> (String, embargo_core::openpgp::Cert) {
    let (armored, fpr, team) = team_cert();
    h.ok(
        "inspect_team_key",
        json!({"programId": "novu", "armored": armored}),
    );
    h.ok(
        "confirm_team_key",
        json!({"programId": "novu", "candidate": fpr, "typedFingerprint": fpr, "replace": false}),
    );
    (fpr, team)
}

#[test]
fn attachments_signing_preview_and_export() {
    let h = harness();
    assert_eq!(
        h.err("preview_seal", json!({"sign": true}))["code"],
        "no_team_key"
    );
    let (fpr, team) = pin_team(&h);
    h.ok("update_draft", json!({"draft": ready_draft()}));
    assert_eq!(h.ok("get_draft", json!({}))["readyToSeal"], true);

    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(h.path("poc.bin"), &data).unwrap();
    h.pick(h.path("poc.bin"));
    let list = h.ok("choose_attachments", json!({}));
    assert_eq!(list[0]["meta"]["name"], "poc.bin");
    assert_eq!(list[0]["meta"]["size"], 5000);
    assert_eq!(
        h.ok("list_attachments", json!({}))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    h.pick(h.path("missing.bin"));
    assert_eq!(h.err("choose_attachments", json!({}))["code"], "io");
    assert_eq!(
        h.err("remove_attachment", json!({"id": 99}))["code"],
        "not_found"
    );

    let preview = h.ok("preview_seal", json!({"sign": true}));
    // A named report and no identity: nobody signs, and Review says why.
    assert_eq!(preview["signing"]["by"], "nobody");
    assert_eq!(preview["signing"]["unsignedBecause"], "no_identity");
    assert_eq!(preview["recipients"][0]["fingerprint"], fpr);
    assert_eq!(preview["format"], "SEIPDv1");
    assert_eq!(preview["to"], "security@novu.co");
    assert_eq!(preview["subject"], "IDOR in workflows");
    assert_eq!(preview["reference"], "EMB-7K2Q-9XDA");
    let text = preview["text"].as_str().unwrap();
    assert!(
        text.contains("Class:       Insecure direct object reference (idor)"),
        "{preview}"
    );
    assert!(text.contains("Reference:   EMB-7K2Q-9XDA"), "{text}");
    assert!(preview["bodyHtml"]
        .as_str()
        .unwrap()
        .contains("<h2>Steps to reproduce</h2>"));
    assert_eq!(preview["delivery"]["copy"], true);
    assert_eq!(preview["delivery"]["mailto"], false);

    // Signing keys: only public facts come back; the passphrase goes straight to the core.
    let (me, _) = CertBuilder::general_purpose(Some("Ada <ada@example.net>"))
        .set_password(Some("pw".into()))
        .generate()
        .unwrap();
    std::fs::write(
        h.path("me.asc"),
        embargo_core::keys::armored_secret(&me).as_bytes(),
    )
    .unwrap();
    h.pick(h.path("me.asc"));
    let view = h.ok("choose_signing_key", json!({}));
    assert_eq!(view["protected"], true);
    assert!(view.get("secret").is_none());
    let eml = h.path("report.eml");
    let export = |pass: Value| {
        h.pick(&eml);
        call(
            &h.main,
            "export_report",
            json!({"format": "eml", "options": {"sign": true, "passphrase": pass, "op": 1}}),
        )
    };
    assert_eq!(
        export(Value::Null).unwrap_err()["code"],
        "passphrase_required"
    );
    assert_eq!(
        export(json!("wrong")).unwrap_err()["code"],
        "wrong_passphrase"
    );
    assert!(!eml.exists(), "a failed export leaves nothing");
    let preview = h.ok("preview_seal", json!({"sign": true}));
    assert_eq!(preview["signing"]["by"], "key_file");
    assert_eq!(preview["signing"]["needsPassphrase"], true);
    assert_eq!(preview["keyFile"]["protected"], true);
    let done = export(json!("pw")).unwrap();
    assert_eq!(done["format"], "SEIPDv1");
    // "Send it": the .eml is the whole message, to Novu's address, the reference as subject.
    assert_eq!(done["sendIt"]["to"], "security@novu.co");
    assert_eq!(done["sendIt"]["way"]["how"], "open_eml");
    assert_eq!(
        done["sendIt"]["subject"],
        "Encrypted vulnerability report EMB-7K2Q-9XDA"
    );
    // Recorded for Sent as exported, sent by you.
    let sent = h.ok("list_sent", json!({}));
    assert_eq!(sent["exports"][0]["reference"], "EMB-7K2Q-9XDA");
    assert_eq!(sent["exports"][0]["format"], "eml");
    assert_eq!(done["signer"], me.fingerprint().to_hex());
    assert_eq!(done["recipients"][0], fpr);
    assert_eq!(done["reference"], "EMB-7K2Q-9XDA");
    let mail = std::fs::read_to_string(&eml).unwrap();
    assert!(mail.contains("Subject: Encrypted vulnerability report EMB-7K2Q-9XDA\r\n"));
    // A cancelled save dialog exports nothing and is no error.
    assert_eq!(
        h.ok(
            "export_report",
            json!({"format": "asc", "options": {"sign": false, "passphrase": null, "op": 2}})
        ),
        Value::Null
    );

    // The team opens what the app exported, with the core.
    let out = h.path("opened");
    let mut none = |_: &str| None;
    let opened = embargo_core::open::open(
        std::fs::File::open(&eml).unwrap(),
        embargo_core::open::OpenRequest {
            secret_keys: std::slice::from_ref(&team),
            verify_with: &[],
            passphrase: &mut none,
            output_dir: &out,
            max_size: 1 << 30,
            require_signature: true,
            cancel: None,
            progress: None,
            journal: None,
        },
    )
    .unwrap();
    assert_eq!(opened.title.as_deref(), Some("IDOR in workflows"));
    assert_eq!(
        std::fs::read(out.join("attachments/poc.bin")).unwrap(),
        data
    );

    let armored = h.ok(
        "armored_report",
        json!({"options": {"sign": false, "passphrase": null, "op": 3}}),
    );
    assert!(armored
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PGP MESSAGE-----"));
    // Too long for a mailto link: said so (nothing is sealed or launched).
    let mail = h.ok(
        "open_mail_client",
        json!({"options": {"sign": false, "passphrase": null, "op": 4}}),
    );
    assert_eq!(mail["opened"], Value::Null);
    assert_eq!(mail["tooLarge"], true);

    let mut anon = ready_draft();
    anon["credit"] = json!("anonymous");
    h.ok("update_draft", json!({"draft": anon}));
    assert_eq!(
        export(json!("pw")).unwrap_err()["code"],
        "anonymous_signing"
    );
    h.ok("clear_signing_key", json!({}));
    // Without a key file the rule decides: an anonymous report is not signed, so it seals.
    let anon_preview = h.ok("preview_seal", json!({"sign": true}));
    assert_eq!(anon_preview["signing"]["unsignedBecause"], "anonymous");
    assert_eq!(export(Value::Null).unwrap()["signer"], Value::Null);
    let list = h.ok("remove_attachment", json!({"id": list[0]["id"]}));
    assert!(list.as_array().unwrap().is_empty());
}

#[test]
fn commands_take_only_files_the_user_picked() {
    let h = harness();
    // No command takes a path from the webview: only tokens of files picked or dropped.
    for (cmd, args) in [
        ("add_dropped", json!({"tokens": [12345]})),
        ("add_dropped", json!({"tokens": [0]})),
    ] {
        assert_eq!(h.err(cmd, args)["code"], "not_found");
    }
    let state = h._app.state::<AppState>();
    std::fs::write(h.path("dropped.txt"), b"dropped").unwrap();
    let dropped = state
        .files
        .register_drop(vec![h.path("dropped.txt"), h.dir.path().to_owned()]);
    assert_eq!(dropped.len(), 1, "directories are not files");
    let list = h.ok("add_dropped", json!({"tokens": [dropped[0].token]}));
    assert_eq!(list[0]["meta"]["name"], "dropped.txt");
    // A token for reading is not a place to write to.
    assert!(state.files.path(dropped[0].token, Purpose::Write).is_err());
    // Key files are opened once, must be regular files, and are size-capped.
    h.pick("/dev/zero");
    let e = h.err("choose_signing_key", json!({}));
    assert_eq!(e["code"], "io", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not a regular file"),
        "{e}"
    );
}

#[test]
fn copy_and_mail_link_are_decided_by_an_estimate_before_sealing() {
    let h = harness();
    pin_team(&h);
    h.ok("update_draft", json!({"draft": ready_draft()}));
    // 3 MB of attachment: far over the clipboard cap, so nothing is sealed into memory.
    std::fs::write(h.path("big.bin"), vec![7u8; 3 << 20]).unwrap();
    h.pick(h.path("big.bin"));
    h.ok("choose_attachments", json!({}));
    let preview = h.ok("preview_seal", json!({"sign": false}));
    let estimate = preview["delivery"]["armoredBytes"].as_u64().unwrap();
    assert!(estimate > 4 << 20, "{estimate}");
    assert_eq!(preview["delivery"]["copy"], false);
    assert_eq!(preview["delivery"]["mailto"], false);
    let e = h.err(
        "armored_report",
        json!({"options": {"sign": false, "passphrase": null, "op": 1}}),
    );
    assert_eq!(e["code"], "too_large");
    // The estimate is an upper bound: the real seal is not larger.
    let asc = h.path("big.asc");
    h.pick(&asc);
    h.ok(
        "export_report",
        json!({"format": "asc", "options": {"sign": false, "passphrase": null, "op": 2}}),
    );
    let real = std::fs::metadata(&asc).unwrap().len();
    assert!(
        real <= estimate && real * 11 / 10 >= estimate,
        "{real} vs {estimate}"
    );
}

#[test]
fn cancel_is_per_operation() {
    let h = harness();
    pin_team(&h);
    h.ok("update_draft", json!({"draft": ready_draft()}));
    std::fs::write(h.path("big.bin"), vec![1u8; 64 << 20]).unwrap();
    h.pick(h.path("big.bin"));
    h.ok("choose_attachments", json!({}));
    let out = h.path("big.asc");
    h.pick(&out);
    let main = h.main.clone();
    let running = std::thread::spawn(move || {
        call(
            &main,
            "export_report",
            json!({"format": "asc", "options": {"sign": false, "passphrase": null, "op": 7}}),
        )
    });
    // Another operation's id cancels nothing; this one's cancels this seal only.
    let mut cancelled = false;
    for _ in 0..2000 {
        assert_eq!(h.ok("cancel_seal", json!({"op": 8})), false);
        if h.ok("cancel_seal", json!({"op": 7})) == true {
            cancelled = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(cancelled, "the seal was running under op 7");
    let result = running.join().unwrap();
    assert_eq!(result.unwrap_err()["code"], "cancelled");
    assert!(!out.exists(), "a cancelled export leaves nothing");
    assert_eq!(
        h.ok("cancel_seal", json!({"op": 7})),
        false,
        "finished operations are gone"
    );
}

#[test]
fn settings_persist() {
    let h = harness();
    let s = h.ok("get_settings", json!({}));
    assert_eq!(s["settings"]["theme"], "system");
    assert!(s["dataDir"].as_str().unwrap().ends_with("data"));
    assert_eq!(s["sequoiaVersion"], embargo_core::openpgp::VERSION);
    assert_eq!(
        h.ok("set_theme", json!({"theme": "dark"}))["settings"]["theme"],
        "dark"
    );
    assert_eq!(h.ok("get_settings", json!({}))["settings"]["theme"], "dark");
    assert!(call(&h.main, "set_theme", json!({"theme": "pink"})).is_err());
    // The proxy every request goes through: checked by the core before it is saved.
    let e = h.err("set_proxy", json!({"proxy": "ftp://127.0.0.1:21"}));
    assert_eq!(e["code"], "network");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not a proxy scheme"),
        "{e}"
    );
    let s = h.ok("set_proxy", json!({"proxy": "socks5h://127.0.0.1:9050"}));
    assert_eq!(s["settings"]["proxy"], "socks5h://127.0.0.1:9050");
    assert_eq!(s["retrySeconds"], 120);
    assert_eq!(
        h.ok("set_proxy", json!({"proxy": ""}))["settings"]["proxy"],
        Value::Null
    );
    assert_eq!(
        h.err("set_retry_seconds", json!({"seconds": 0}))["code"],
        "invalid_input"
    );
    assert_eq!(
        h.ok("set_retry_seconds", json!({"seconds": 5}))["retrySeconds"],
        5
    );
    // How often the app checks for news: 120 s by default, 0 turns it off, 1–4 refused.
    assert_eq!(h.ok("get_settings", json!({}))["notifySeconds"], 120);
    let e = h.err("set_notify_seconds", json!({"seconds": 3}));
    assert_eq!(e["code"], "invalid_input");
    assert!(e["message"].as_str().unwrap().contains("5 to 86400"), "{e}");
    assert_eq!(
        h.ok("set_notify_seconds", json!({"seconds": 0}))["notifySeconds"],
        0
    );
    assert_eq!(
        h.ok("set_notify_seconds", json!({"seconds": 30}))["notifySeconds"],
        30
    );
    assert_eq!(h.ok("get_settings", json!({}))["notifySeconds"], 30);
    // What the app is used for: unset until chosen, then kept.
    assert_eq!(
        h.ok("get_settings", json!({}))["settings"]["role"],
        Value::Null
    );
    assert!(call(&h.main, "set_role", json!({"role": "admin"})).is_err());
    assert_eq!(
        h.ok("set_role", json!({"role": "team"}))["settings"]["role"],
        "team"
    );
    assert_eq!(h.ok("get_settings", json!({}))["settings"]["role"], "team");
}

/// The team member's unlocked key follows the vault's auto-lock: idle past it, it is forgotten;
/// locking forgets it too.
#[test]
fn the_team_key_follows_auto_lock() {
    use embargo_core::openpgp::crypto::Password;
    use embargo_core::usecase::team::{self, Connection, Member};
    let h = harness();
    let state = h._app.state::<AppState>();
    let (key, _) = CertBuilder::general_purpose(Some("Alice <alice@acme.test>"))
        .generate()
        .unwrap();
    let pw = Password::from("violet harbour quantum saddle");
    let connection = Connection {
        intake_url: "http://127.0.0.1:9".into(),
        token: "t".repeat(43),
        program: Some("novu".into()),
    };
    team::connect(&state.store, &connection, key, pw.clone()).unwrap();
    let unlock = || {
        let mut ask = |_: &str| Some(pw.clone());
        let net = embargo_core::net::NetConfig::default();
        std::sync::Arc::new(Member::unlock(&state.store, &mut ask, &net).unwrap())
    };
    state.set_team(Some(unlock()));
    assert_eq!(h.ok("team_status", json!({}))["unlocked"], true);
    h.ok("set_auto_lock", json!({ "minutes": 1 }));
    state.lock().last_active -= std::time::Duration::from_secs(61);
    assert!(state.team().is_none(), "idle a minute: forgotten");
    assert_eq!(h.ok("team_status", json!({}))["unlocked"], false);
    let e = h.err("team_inbox", json!({}));
    assert_eq!(e["code"], "vault_locked", "{e}");

    state.set_team(Some(unlock()));
    assert!(state.team().is_some(), "unlocking again is activity");
    h.ok("lock_vault", json!({}));
    assert!(state.team().is_none(), "Lock forgets the team key too");
}

#[test]
fn command_errors_serialize_with_a_stable_code() {
    let e = crate::error::CommandError::new(crate::error::ErrorCode::NoTeamKey, "x").hint("y");
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"code": "no_team_key", "message": "x", "hint": "y"})
    );
}

#[test]
fn a_window_without_the_capability_is_refused() {
    let h = harness();
    let intruder =
        WebviewWindowBuilder::new(&h._app, "intruder", WebviewUrl::App("index.html".into()))
            .build()
            .unwrap();
    for cmd in ["list_programs", "get_draft", "export_report"] {
        let err = call(&intruder, cmd, json!({})).expect_err("refused");
        assert!(err.to_string().contains("not allowed"), "{cmd}: {err}");
    }
    assert!(call(&h.main, "list_programs", json!({})).is_ok());
}

/// The names in build.rs's `COMMANDS` list.
fn declared_commands(build_rs: &str) -> Vec<&str> {
    let start = build_rs
        .find("const COMMANDS")
        .expect("build.rs declares COMMANDS");
    let block = &build_rs[start..start + build_rs[start..].find("];").expect("end of COMMANDS")];
    block
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\","))
        .collect()
}

#[test]
fn the_handler_and_build_rs_list_the_same_commands() {
    let build =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("build.rs")).unwrap();
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let declared = declared_commands(&build);
    let handled: Vec<&str> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let (module, name) = l.strip_suffix(',')?.split_once("::")?;
            [
                "programs", "report", "review", "sent", "settings", "team", "vault",
            ]
            .contains(&module)
            .then_some(name)
        })
        .collect();
    assert_eq!(declared, handled);
}

/// The app's security configuration, read from the files Tauri compiles in: any loosening fails.
#[test]
fn security_configuration_is_not_loosened() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let conf: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tauri.conf.json")).unwrap())
            .unwrap();
    let app = &conf["app"];
    assert_eq!(
        app["withGlobalTauri"], false,
        "no global Tauri object for injected scripts"
    );
    assert_eq!(
        app["windows"],
        json!([]),
        "windows are created in code, with navigation locked"
    );
    let security = app["security"].as_object().unwrap();
    let allowed_keys = ["csp", "freezePrototype", "capabilities"];
    for key in security.keys() {
        assert!(
            allowed_keys.contains(&key.as_str()),
            "unexpected security setting `{key}` (dangerous* and remote access are not allowed)"
        );
    }
    assert_eq!(security["freezePrototype"], true);
    assert_eq!(security["capabilities"], json!(["main"]));
    let csp = security["csp"].as_str().unwrap();
    let directives: std::collections::BTreeMap<&str, Vec<&str>> = csp
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace();
            (words.next().unwrap(), words.collect())
        })
        .collect();
    let expect = |name: &str, want: &[&str]| {
        assert_eq!(
            directives.get(name).map(Vec::as_slice),
            Some(want),
            "CSP {name}"
        )
    };
    expect("default-src", &["'self'"]);
    expect("script-src", &["'self'"]);
    expect("style-src", &["'self'"]);
    expect("connect-src", &["ipc:", "http://ipc.localhost"]);
    expect("object-src", &["'none'"]);
    expect("frame-src", &["'none'"]);
    expect("base-uri", &["'none'"]);
    expect("form-action", &["'none'"]);
    for (name, sources) in &directives {
        for s in sources {
            assert!(
                !s.contains("unsafe") && *s != "*" && !s.starts_with("https:") && (*s != "http:"),
                "CSP {name} allows {s}"
            );
            assert!(
                !s.starts_with("http") || *s == "http://ipc.localhost",
                "CSP {name} allows remote origin {s}"
            );
        }
    }

    let caps: Vec<_> = std::fs::read_dir(root.join("capabilities"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(caps, ["main.json"], "one capability only");
    let cap: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("capabilities/main.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cap["windows"], json!(["main"]));
    assert!(
        cap.get("remote").is_none()
            && cap.get("webviews").is_none()
            && cap.get("platforms").is_none()
    );
    let build = std::fs::read_to_string(root.join("build.rs")).unwrap();
    let mut want: Vec<String> = [
        "core:event:allow-listen",
        "core:event:allow-unlisten",
        "clipboard-manager:allow-write-text",
    ]
    .map(String::from)
    .to_vec();
    want.extend(
        declared_commands(&build)
            .iter()
            .map(|c| format!("allow-{}", c.replace('_', "-"))),
    );
    let got: Vec<String> = cap["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p.as_str()
                .expect("plain permission ids, no scopes")
                .to_owned()
        })
        .collect();
    assert_eq!(
        got, want,
        "exactly Embargo's commands, its events, and the clipboard; dialogs are the backend's"
    );

    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for plugin in [
        "tauri-plugin-shell",
        "tauri-plugin-fs",
        "tauri-plugin-http",
        "tauri-plugin-opener",
        "devtools",
    ] {
        assert!(
            !manifest.contains(plugin),
            "{plugin} must not be part of the app"
        );
    }
}

#[test]
fn navigation_is_locked_to_the_app() {
    for ok in [
        "tauri://localhost/index.html",
        "http://tauri.localhost/",
        "https://tauri.localhost/x",
    ] {
        assert!(crate::is_app_url(&ok.parse().unwrap()), "{ok}");
    }
    for bad in [
        "https://evil.example/",
        "file:///etc/passwd",
        "tauri://evil/",
        "http://localhost:8080/",
        "data:text/html,x",
        "javascript:alert(1)",
    ] {
        assert!(!crate::is_app_url(&bad.parse().unwrap()), "{bad}");
    }
}

/// Closing the window asks first only when the draft would be lost: it changed and there is no
/// identity to save it to; once the researcher chose to close anyway, it does not ask again.
#[test]
fn closing_asks_only_when_the_draft_would_be_lost() {
    use crate::commands::vault::close_would_lose_work;
    let h = harness();
    let state = h.main.state::<AppState>();
    assert!(!close_would_lose_work(&state), "nothing written yet");
    let mut draft = h.ok("get_draft", json!({}))["draft"].clone();
    draft["title"] = json!("Stored XSS in the editor");
    h.ok("update_draft", json!({ "draft": draft.clone() }));
    assert!(close_would_lose_work(&state), "written, no identity");
    h.ok(
        "create_identity",
        json!({ "name": "Ada", "email": "", "passphrase": "correct horse battery staple" }),
    );
    assert!(!close_would_lose_work(&state), "saved to the identity");

    let h = harness();
    let state = h.main.state::<AppState>();
    h.ok("update_draft", json!({ "draft": draft }));
    assert!(close_would_lose_work(&state));
    h.ok("close_discarding", json!({}));
    assert!(!close_would_lose_work(&state), "chosen: close and lose it");
}

/// The identity backed up through the save dialog (wrong passphrase refused, nothing written;
/// the file locked), then restored in another data directory holding a copy of the old one's
/// drafts: the draft opens there.
#[test]
fn the_identity_backs_up_and_restores_on_another_machine() {
    let a = harness();
    let pass = "correct horse battery staple";
    let mut draft = a.ok("get_draft", json!({}))["draft"].clone();
    draft["title"] = json!("Stored XSS in the editor");
    a.ok("update_draft", json!({ "draft": draft }));
    let v = a.ok(
        "create_identity",
        json!({ "name": "Ada", "email": "ada@example.org", "passphrase": pass }),
    );
    let id = v["current"].as_str().unwrap().to_owned();
    let fingerprint = v["identity"]["fingerprint"].clone();
    let backup = a.path("backup.asc");
    // A wrong passphrase is refused before the dialog asks where.
    let e = a.err("backup_identity", json!({ "passphrase": "not it" }));
    assert_eq!(e["code"], "wrong_passphrase", "{e}");
    a.pick(&backup);
    let saved = a.ok("backup_identity", json!({ "passphrase": pass }));
    assert_eq!(saved, json!(backup.display().to_string()));
    let text = std::fs::read_to_string(&backup).unwrap();
    assert!(text.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));
    let tsk = embargo_core::keys::read_secret_key(&backup).unwrap();
    assert!(
        !tsk.keys()
            .secret()
            .any(|k| k.key().has_unencrypted_secret()),
        "the backup is locked with the passphrase"
    );

    let b = harness();
    let from = a.path("data/vault/drafts").join(&id);
    let to = b.path("data/vault/drafts").join(&id);
    std::fs::create_dir_all(&to).unwrap();
    for f in std::fs::read_dir(&from).unwrap().flatten() {
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
    b.pick(&backup);
    let v = b.ok("import_identity", json!({ "passphrase": pass }));
    assert_eq!(v["identity"]["fingerprint"], fingerprint);
    let opened = b.ok("open_draft", json!({ "id": id }));
    assert_eq!(
        opened["status"]["draft"]["title"],
        "Stored XSS in the editor"
    );
}

/// The vault commands on the mock runtime: nothing saved without an identity; create → the draft
/// is saved encrypted; a wrong passphrase is refused; auto-lock drops the passphrase; drafts
/// open, duplicate and delete; a report file opens as a new draft and saves back out.
#[test]
fn vault_commands_save_lock_open_and_auto_lock() {
    let h = harness();
    let v = h.ok("vault_status", json!({}));
    assert_eq!(v["identity"], Value::Null);
    let mut draft = h.ok("get_draft", json!({}))["draft"].clone();
    draft["title"] = json!("Stored XSS in the editor");
    h.ok("update_draft", json!({ "draft": draft }));
    let v = h.ok("autosave", json!({}));
    assert_eq!(
        v["drafts"].as_array().unwrap().len(),
        0,
        "no identity, nothing saved"
    );
    assert_eq!(v["dirty"], json!(true));

    let e = h.err(
        "create_identity",
        json!({ "name": "", "email": "", "passphrase": "pw" }),
    );
    assert_eq!(e["code"], "invalid_input");
    // A guessable passphrase is refused with the reason, and nothing is created.
    let e = h.err(
        "create_identity",
        json!({ "name": "Ada", "email": "ada@example.org", "passphrase": "correct horse" }),
    );
    assert_eq!(e["code"], "invalid_input");
    assert!(e["message"].as_str().unwrap().contains("too weak"), "{e}");
    let v = h.ok(
        "create_identity",
        json!({ "name": "Ada", "email": "ada@example.org", "passphrase": "correct horse battery staple" }),
    );
    assert_eq!(v["unlocked"], json!(true));
    assert_eq!(v["dirty"], json!(false));
    let first = v["current"].as_str().unwrap().to_owned();
    assert_eq!(v["drafts"].as_array().unwrap().len(), 1);
    assert!(v["identity"]["user_ids"][0]
        .as_str()
        .unwrap()
        .contains("ada@example.org"));

    // Locked: the draft list shows, opening needs the passphrase; a wrong one is refused.
    h.ok("lock_vault", json!({}));
    let e = h.err("open_draft", json!({ "id": first }));
    assert_eq!(e["code"], "passphrase_required");
    let e = h.err("unlock_vault", json!({ "passphrase": "wrong" }));
    assert_eq!(e["code"], "wrong_passphrase", "{e}");
    h.ok(
        "unlock_vault",
        json!({ "passphrase": "correct horse battery staple" }),
    );

    // A new draft, then back to the first: its text returns.
    let opened = h.ok("new_draft", json!({}));
    assert_eq!(opened["status"]["draft"]["title"], "");
    let opened = h.ok("open_draft", json!({ "id": first }));
    assert_eq!(
        opened["status"]["draft"]["title"],
        "Stored XSS in the editor"
    );
    let v = h.ok("duplicate_draft", json!({ "id": first }));
    assert_eq!(v["drafts"].as_array().unwrap().len(), 2);
    let copy = v["drafts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .find(|id| *id != first)
        .unwrap();
    let v = h.ok("delete_draft", json!({ "id": copy }));
    assert_eq!(v["drafts"].as_array().unwrap().len(), 1);

    // Save as report.md, open it again as a new draft.
    let file = h.path("report.md");
    h.pick(&file);
    h.ok("save_report_file", json!({}));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("+++") && text.contains("Stored XSS in the editor"));
    std::fs::write(&file, text.replace("Stored XSS", "Reflected XSS") + "").unwrap();
    h.pick(&file);
    let opened = h.ok("open_report_file", json!({}));
    assert_eq!(
        opened["status"]["draft"]["title"],
        "Reflected XSS in the editor"
    );
    let v = h.ok("autosave", json!({}));
    assert_eq!(
        v["drafts"].as_array().unwrap().len(),
        2,
        "saved as a new draft"
    );
    std::fs::write(h.path("bad.md"), "no front matter").unwrap();
    h.pick(h.path("bad.md"));
    let e = h.err("open_report_file", json!({}));
    assert!(e["message"].as_str().unwrap().contains("bad.md"), "{e}");

    // Auto-lock: idle past the limit, the passphrase is gone.
    let e = h.err("set_auto_lock", json!({ "minutes": 0 }));
    assert_eq!(e["code"], "invalid_input");
    h.ok("set_auto_lock", json!({ "minutes": 1 }));
    {
        let state = h.main.state::<AppState>();
        let mut inner = state.lock();
        inner.last_active -= std::time::Duration::from_secs(61);
    }
    let v = h.ok("vault_status", json!({}));
    assert_eq!(
        v["unlocked"],
        json!(false),
        "auto-locked after a minute idle"
    );
    assert_eq!(v["autoLockMinutes"], json!(1));
}

/// Only a program's own https policy URL is ever opened; the webview names the program, not
/// the URL.
#[test]
fn only_https_policy_urls_are_opened() {
    use crate::error::ErrorCode;
    use embargo_core::program::Program;
    let novu = Program::novu();
    assert_eq!(
        crate::commands::programs::policy_link(&novu).unwrap(),
        novu.policy_url.clone().unwrap()
    );
    for bad in [
        "http://example.org/policy",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
    ] {
        let p = Program {
            policy_url: Some(bad.into()),
            ..novu.clone()
        };
        let e = crate::commands::programs::policy_link(&p).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
    }
    let none = Program {
        policy_url: None,
        ..novu
    };
    assert_eq!(
        crate::commands::programs::policy_link(&none)
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    // The command takes a program id, nothing else.
    let h = harness();
    let e = h.err("open_policy", json!({ "programId": "no-such-program" }));
    assert_eq!(e["code"], "not_found", "{e}");
}

/// "Seal anyway" is offered only when policy findings alone are open, and an export then seals.
#[test]
fn seal_anyway_is_offered_for_policy_findings_only() {
    let h = harness();
    let mut draft = ready_draft();
    h.ok("update_draft", json!({ "draft": draft.clone() }));
    let s = h.ok("get_draft", json!({}));
    assert_eq!(
        s["sealableAnyway"], false,
        "no team key: nothing to seal to"
    );
    pin_team(&h);
    draft["attestations"] = json!([]);
    let s = h.ok("update_draft", json!({ "draft": draft.clone() }));
    assert_eq!(s["readyToSeal"], false, "rules unticked: {}", s["findings"]);
    assert_eq!(s["sealableAnyway"], true, "only policy findings are open");
    let out = h.path("anyway.asc");
    h.pick(&out);
    h.ok(
        "export_report",
        json!({ "format": "asc", "options": { "sign": false, "passphrase": null, "op": 7 } }),
    );
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .starts_with("-----BEGIN PGP MESSAGE-----"));
    draft["title"] = json!("");
    let s = h.ok("update_draft", json!({ "draft": draft }));
    assert_eq!(
        s["sealableAnyway"], false,
        "a missing title is not overridable"
    );
}

/// The key request and "Send it" reach the mail client through the backend, with the URL the
/// core built from the stored program (or the file the backend wrote); the webview names only
/// the program.
#[test]
fn the_backend_opens_only_what_it_built() {
    let h = harness();
    let request = h.ok("request_key", json!({"programId": "novu"}));
    assert_eq!(request["to"], "security@novu.co");
    assert!(request["body"]
        .as_str()
        .unwrap()
        .contains("I would like to report a security issue to you confidentially"));
    let url = h.ok("open_key_request", json!({"programId": "novu"}));
    assert_eq!(h.opened(), [url.as_str().unwrap()]);
    assert!(url
        .as_str()
        .unwrap()
        .starts_with("mailto:security@novu.co?subject=Request%20for%20an%20OpenPGP%20key"));
    // A program with no email contact: nothing is opened.
    h.ok(
        "add_program",
        json!({"name": "Form only", "contact": "https://form.example/report", "intakeUrl": null}),
    );
    assert_eq!(
        h.err("open_key_request", json!({"programId": "form-only"}))["code"],
        "invalid_input"
    );
    // Nothing exported yet: nothing to open.
    assert_eq!(h.err("open_export", json!({}))["code"], "not_found");
    pin_team(&h);
    h.ok("update_draft", json!({"draft": ready_draft()}));
    let asc = h.path("report.asc");
    h.pick(&asc);
    let done = h.ok(
        "export_report",
        json!({"format": "asc", "options": {"sign": false, "passphrase": null, "op": 1}}),
    );
    // A real report is larger than a mail link holds: the link starts the message (address and
    // subject only) and the file is attached.
    assert_eq!(done["sendIt"]["way"]["how"], "attach");
    let opened = h.ok("open_export", json!({}));
    let link = opened.as_str().unwrap();
    assert_eq!(
        link,
        "mailto:security@novu.co?subject=Encrypted%20vulnerability%20report%20EMB-7K2Q-9XDA"
    );
    assert_eq!(h.opened().last().map(String::as_str), Some(link));
    let eml = h.path("report.eml");
    h.pick(&eml);
    h.ok(
        "export_report",
        json!({"format": "eml", "options": {"sign": false, "passphrase": null, "op": 2}}),
    );
    assert_eq!(
        h.ok("open_export", json!({})),
        json!(eml.display().to_string())
    );
}
