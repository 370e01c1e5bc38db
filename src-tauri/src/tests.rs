//! Every command through Tauri's IPC on the mock runtime, with the real capability and ACL.

use std::path::Path;

use embargo_core::openpgp::cert::CertBuilder;
use embargo_core::store::Store;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use crate::AppState;

struct Harness {
    _app: App<MockRuntime>,
    main: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::builder(
        mock_builder(),
        AppState::new(Store::at(dir.path().join("data"))),
    )
    .build(tauri::generate_context!())
    .expect("app builds on the mock runtime");
    let main = crate::main_window(&app).unwrap();
    Harness {
        _app: app,
        main,
        dir,
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
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
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
        "program": "novu", "title": "IDOR in workflows", "assets": ["https://api.novu.co/v1/workflows", " "],
        "class": "idor", "cwe": "CWE-639", "cvss": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", "severity": null,
        "credit": {"kind": "named", "name": "Ada", "handle": "@ada"},
        "attestations": ["no-automated-scanning", "no-exploitation", "confidential-until-fixed", "no-social-engineering-or-dos"],
        "scopeConfirmations": [], "body": "## Steps to reproduce\n\n1. GET it.\n"
    })
}

#[test]
fn programs_keys_and_pinning() {
    let h = harness();
    let list = h.ok("list_programs", json!({}));
    assert_eq!(list[0]["id"], "novu");
    assert_eq!(list[0]["contact"], "security@novu.co");
    assert_eq!(list[0]["teamKeyFingerprint"], Value::Null);
    let novu = h.ok("get_program", json!({"id": "novu"}));
    assert_eq!(novu["responseBusinessDays"], 3);
    assert!(novu["outOfScope"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["class"] == "dos" && o["condition"].is_null()));
    assert_eq!(
        h.err("get_program", json!({"id": "nope"}))["code"],
        "not_found"
    );

    let (armored, fpr, _) = team_cert();
    let candidate = h.ok(
        "inspect_team_key",
        json!({"programId": "novu", "armored": armored, "path": null}),
    );
    assert_eq!(candidate["key"]["fingerprint"], fpr);
    assert_eq!(candidate["key"]["format"], "SEIPDv1");
    assert_eq!(candidate["differsFromPinned"], false);
    assert_eq!(
        candidate["key"]["fingerprintGrouped"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        10
    );
    let err = h.err(
        "confirm_team_key",
        json!({"programId": "novu", "fingerprint": "0000"}),
    );
    assert_eq!(err["code"], "not_found");
    let pinned = h.ok(
        "confirm_team_key",
        json!({"programId": "novu", "fingerprint": fpr}),
    );
    assert_eq!(pinned["teamKey"]["fingerprint"], fpr);
    assert_eq!(pinned["teamKeySource"], "pasted");
    // Shared with the CLI: it is in the data directory.
    let store = Store::at(h.dir.path().join("data"));
    assert_eq!(
        store.program("novu").unwrap().team_key.unwrap().fingerprint,
        fpr
    );

    // A different key later: loud, not silent.
    let (other, other_fpr, _) = team_cert();
    std::fs::write(h.dir.path().join("other.asc"), &other).unwrap();
    let c = h.ok(
        "inspect_team_key",
        json!({"programId": "novu", "armored": null, "path": h.path("other.asc")}),
    );
    assert_eq!(c["differsFromPinned"], true);
    assert_eq!(c["pinned"], fpr);
    assert_eq!(
        h.ok(
            "confirm_team_key",
            json!({"programId": "novu", "fingerprint": other_fpr})
        )["teamKey"]["fingerprint"],
        other_fpr
    );

    // Unusable keys come back with the core's specific reason and cannot be confirmed.
    let (sign_only, _) = CertBuilder::new()
        .add_userid("s")
        .add_signing_subkey()
        .generate()
        .unwrap();
    let c = h.ok("inspect_team_key", json!({"programId": "novu", "armored": embargo_core::keys::armored_public(&sign_only), "path": null}));
    assert!(
        c["key"]["problem"]
            .as_str()
            .unwrap()
            .contains("no encryption-capable subkey"),
        "{c}"
    );
    let e = h.err(
        "confirm_team_key",
        json!({"programId": "novu", "fingerprint": sign_only.fingerprint().to_hex()}),
    );
    assert_eq!(e["code"], "key_unusable");
    assert!(e["hint"].is_string());
    assert_eq!(
        h.err(
            "inspect_team_key",
            json!({"programId": "novu", "armored": "garbage", "path": null})
        )["code"],
        "invalid_input"
    );

    let added = h.ok(
        "add_program",
        json!({"name": "Acme", "contact": "sec@acme.example", "intakeUrl": null}),
    );
    assert_eq!(added["email"], "sec@acme.example");
    assert_eq!(
        h.ok("list_programs", json!({})).as_array().unwrap().len(),
        2
    );
}

#[test]
fn draft_validation_cvss_and_markdown() {
    let h = harness();
    let s = h.ok("get_draft", json!({}));
    assert_eq!(s["draft"]["program"], "novu");
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
    let msgs: Vec<String> = s["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}: {}", f["field"], f["message"]))
        .collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("\"class\"") && m.contains("out of scope for Novu")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("\"cvss\"") && m.contains("does not parse")),
        "{msgs:?}"
    );
    assert_eq!(s["readyToSeal"], false, "no team key and a bad vector");

    let s = h.ok("update_draft", json!({"draft": ready_draft()}));
    assert!(s["findings"].as_array().unwrap().is_empty(), "{s}");
    assert_eq!(s["cvss"]["score"], 6.5);
    assert_eq!(s["severity"], "medium");
    assert_eq!(
        h.ok("get_draft", json!({}))["draft"]["title"],
        "IDOR in workflows"
    );

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

#[test]
fn attachments_signing_preview_and_export() {
    let h = harness();
    assert_eq!(h.err("preview_seal", json!({}))["code"], "no_team_key");
    let (armored, fpr, team) = team_cert();
    h.ok(
        "inspect_team_key",
        json!({"programId": "novu", "armored": armored, "path": null}),
    );
    h.ok(
        "confirm_team_key",
        json!({"programId": "novu", "fingerprint": fpr}),
    );
    h.ok("update_draft", json!({"draft": ready_draft()}));
    assert_eq!(h.ok("get_draft", json!({}))["readyToSeal"], true);

    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(h.dir.path().join("poc.bin"), &data).unwrap();
    let list = h.ok("add_attachment", json!({"path": h.path("poc.bin")}));
    assert_eq!(list[0]["name"], "poc.bin");
    assert_eq!(list[0]["size"], 5000);
    assert_eq!(
        h.ok("list_attachments", json!({}))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        h.err("add_attachment", json!({"path": h.path("missing.bin")}))["code"],
        "io"
    );
    assert_eq!(
        h.err("remove_attachment", json!({"id": 99}))["code"],
        "not_found"
    );

    let preview = h.ok("preview_seal", json!({}));
    assert_eq!(preview["recipients"][0]["fingerprint"], fpr);
    assert_eq!(preview["format"], "SEIPDv1");
    assert_eq!(preview["to"], "security@novu.co");
    assert_eq!(preview["subject"], "IDOR in workflows");
    assert!(
        preview["text"]
            .as_str()
            .unwrap()
            .contains("Class:       idor (Insecure direct object reference)"),
        "{preview}"
    );
    assert!(preview["bodyHtml"]
        .as_str()
        .unwrap()
        .contains("<h2>Steps to reproduce</h2>"));

    // Signing keys: only public facts come back; the passphrase goes straight to the core.
    let (me, _) = CertBuilder::general_purpose(Some("Ada <ada@example.net>"))
        .set_password(Some("pw".into()))
        .generate()
        .unwrap();
    std::fs::write(
        h.dir.path().join("me.asc"),
        embargo_core::keys::armored_secret(&me).as_bytes(),
    )
    .unwrap();
    let view = h.ok("import_signing_key", json!({"path": h.path("me.asc")}));
    assert_eq!(view["protected"], true);
    assert!(view.get("secret").is_none());
    let eml = h.path("report.eml");
    let req = |pass: Value| json!({"request": {"format": "eml", "path": eml, "sign": true, "passphrase": pass}});
    assert_eq!(
        h.err("export_report", req(Value::Null))["code"],
        "passphrase_required"
    );
    assert_eq!(
        h.err("export_report", req(json!("wrong")))["code"],
        "wrong_passphrase"
    );
    assert!(!Path::new(&eml).exists(), "a failed export leaves nothing");
    let done = h.ok("export_report", req(json!("pw")));
    assert_eq!(done["format"], "SEIPDv1");
    assert_eq!(done["signer"], me.fingerprint().to_hex());
    assert_eq!(done["recipients"][0], fpr);

    // The team opens what the app exported, with the core.
    let out = h.dir.path().join("opened");
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
        json!({"request": {"sign": false, "passphrase": null}}),
    );
    assert!(armored
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PGP MESSAGE-----"));
    // Too long for a mailto link: instructions instead (nothing is launched).
    let mail = h.ok(
        "open_mail_client",
        json!({"request": {"sign": false, "passphrase": null}}),
    );
    assert_eq!(mail["opened"], false);
    assert!(mail["instructions"]
        .as_str()
        .unwrap()
        .contains("Export .eml"));

    let mut anon = ready_draft();
    anon["credit"] = json!({"kind": "anonymous"});
    h.ok("update_draft", json!({"draft": anon}));
    assert_eq!(
        h.err("export_report", req(json!("pw")))["code"],
        "anonymous_signing"
    );
    h.ok("clear_signing_key", json!({}));
    assert_eq!(
        h.err("export_report", req(Value::Null))["code"],
        "invalid_input"
    );
    let list = h.ok("remove_attachment", json!({"id": list[0]["id"]}));
    assert!(list.as_array().unwrap().is_empty());
    h.ok("cancel_seal", json!({}));
}

#[test]
fn settings_persist() {
    let h = harness();
    let s = h.ok("get_settings", json!({}));
    assert_eq!(s["theme"], "system");
    assert!(s["dataDir"].as_str().unwrap().ends_with("data"));
    assert_eq!(s["sequoiaVersion"], embargo_core::openpgp::VERSION);
    assert_eq!(h.ok("set_theme", json!({"theme": "dark"}))["theme"], "dark");
    assert_eq!(h.ok("get_settings", json!({}))["theme"], "dark");
    assert!(call(&h.main, "set_theme", json!({"theme": "pink"})).is_err());
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
        .filter_map(|l| l.trim().strip_prefix("commands::")?.strip_suffix(','))
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
        "dialog:allow-open",
        "dialog:allow-save",
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
        "exactly Embargo's commands, its events, and the dialog/clipboard calls it uses"
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
