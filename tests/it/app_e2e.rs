//! The desktop app end to end: the real binary under Xvfb, driven through WebKitWebDriver by
//! tauri-driver, from program to an exported `.eml` that gpg decrypts. Also takes the README's
//! screenshots of every screen in light and dark mode.
//!
//! WebDriver cannot drive GTK's native file dialogs or OS drag-and-drop. For those two steps only
//! (adding an attachment, choosing where the `.eml` goes) the test calls the backend command the
//! dialog's result feeds, over the same IPC channel the UI's `ipc.ts` uses; the UI then updates
//! from the backend's events, as it does after a real dialog.

use crate::intake::free_port;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use embargo_tests::*;

fn app_bin() -> PathBuf {
    let bin = embargo_bin().with_file_name("embargo-app");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first",
        bin.display()
    );
    bin
}

/// An app's every writable place under `r` (its data dir, HOME, TMPDIR, the XDG dirs), made
/// here, as the environment to start it with; tests then search `r` for what it wrote.
pub(crate) fn confined_env(r: &Path) -> Vec<(&'static str, std::ffi::OsString)> {
    let places = [
        ("EMBARGO_HOME", "embargo"),
        ("HOME", "home"),
        ("TMPDIR", "tmp"),
        ("XDG_DATA_HOME", "xdg-data"),
        ("XDG_CONFIG_HOME", "xdg-config"),
        ("XDG_CACHE_HOME", "xdg-cache"),
    ];
    places
        .iter()
        .map(|(var, dir)| {
            fs::create_dir_all(r.join(dir)).unwrap();
            (*var, r.join(dir).into_os_string())
        })
        .collect()
}

/// tauri-driver, stopped with SIGTERM so that WebKitWebDriver lets go of its port; holds the
/// app turn until then.
pub(crate) struct Driver {
    child: Child,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        // A session left open (a test that panicked before `close`) can keep tauri-driver
        // waiting: give it five seconds, then kill it and its WebKitWebDriver.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("pkill")
            .arg("-KILL")
            .arg("-P")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts tauri-driver with `env` for the app (its data dir, network settings, scripted
/// dialogs) and opens a WebDriver session on the app.
async fn session(env: &[(&str, &std::ffi::OsStr)]) -> (Driver, Client) {
    session_with(&app_bin(), env).await
}

/// [`session`] on the app at `app` (the installed package's, in `packages`).
pub(crate) async fn session_with(app: &Path, env: &[(&str, &std::ffi::OsStr)]) -> (Driver, Client) {
    let port = free_port();
    let mut cmd = tool("tauri-driver");
    cmd.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &free_port().to_string(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // One app at a time (and never beside the slow-client flood).
    let turn = crate::alone();
    let driver = Driver {
        child: cmd.spawn().unwrap(),
        _turn: turn,
    };
    let mut caps = serde_json::Map::new();
    caps.insert("tauri:options".into(), json!({ "application": app }));
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    let c = loop {
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(_) if start.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("tauri-driver session: {e}"),
        }
    };
    (driver, c)
}

pub(crate) async fn by(c: &Client, id: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!("[data-testid='{id}']")))
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"))
}

/// Types like a person: WebKitWebDriver drops a bare "\n", so line breaks are the Enter key.
async fn type_into(c: &Client, id: &str, text: &str) {
    by(c, id)
        .await
        .send_keys(&text.replace('\n', "\u{E007}"))
        .await
        .unwrap();
}

async fn text_of(c: &Client, id: &str) -> String {
    by(c, id).await.text().await.unwrap()
}

/// Waits until a script returns true (the UI reacts asynchronously to the backend).
pub(crate) async fn until(c: &Client, what: &str, script: &str) {
    let start = Instant::now();
    loop {
        if c.execute(script, vec![]).await.ok() == Some(Value::Bool(true)) {
            return;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let findings = c
                .execute("return Array.from(document.querySelectorAll(\"[data-testid^='finding']\")).map(e => e.dataset.testid + ': ' + e.textContent).join('\\n') + ' | body: ' + JSON.stringify(document.querySelector(\"[data-testid='body']\")?.value) + ' | page: ' + document.body.innerText.slice(0, 4000)", vec![])
                .await;
            panic!("timed out waiting for {what}; findings shown: {findings:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Calls a command from the page as injected script would, and returns its rejection.
async fn invoke_refused(c: &Client, cmd: &str, args: Value) -> Value {
    let script = "const [cmd, args, done] = arguments; window.__TAURI_INTERNALS__.invoke(cmd, args).then(r => done({ok: r}), e => done({err: e}));";
    let v = c
        .execute_async(script, vec![json!(cmd), args])
        .await
        .unwrap();
    assert!(v.get("ok").is_none(), "{cmd} should be refused: {v}");
    v["err"].clone()
}

pub(crate) async fn shot(c: &Client, dir: &Path, name: &str) {
    // Show each screen from its top; let transitions and fonts settle.
    let _ = c.execute("window.scrollTo(0, 0); document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; });", vec![]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    screenshot(c, dir, name).await;
}

/// WebDriver's screenshot into `dir/NAME.png`; one that cannot be taken is reported
/// (`shot_failed`) and the flow goes on.
///
/// WebKitGTK answers the screenshot after the page's next presentation update. With accelerated
/// compositing off (the app turns it off: 120 MB less) a screen with nothing left to repaint —
/// one shorter than the window, with no scrolling area, such as Drafts or Sent — never has one,
/// and the screenshot waited forever. While it is taken, a 1-pixel element changes every 50 ms
/// so that WebKit paints (and the picture is the page's; the element is invisible).
async fn screenshot(c: &Client, dir: &Path, name: &str) {
    let _ = c
        .execute(
            "const p = document.createElement('div'); p.id = 'e2e-repaint';
             p.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;opacity:0';
             document.body.appendChild(p);
             window.__e2eRepaint = setInterval(() => { p.style.opacity = p.style.opacity === '0' ? '0.01' : '0'; }, 50);",
            vec![],
        )
        .await;
    let taken = tokio::time::timeout(Duration::from_secs(20), c.screenshot()).await;
    let _ = c
        .execute(
            "clearInterval(window.__e2eRepaint); document.getElementById('e2e-repaint')?.remove();",
            vec![],
        )
        .await;
    match taken {
        Ok(Ok(png)) => fs::write(dir.join(format!("{name}.png")), png).unwrap(),
        Ok(Err(e)) => shot_failed(dir, name, &e.to_string()),
        Err(_) => shot_failed(
            dir,
            name,
            "WebKitWebDriver's screenshot timed out after 20 s",
        ),
    }
}

/// A screenshot that could not be taken: no stale picture is left in its place, and a
/// `NAME.png.failed` file says why, which makes `scripts/screenshots.sh` fail. The test goes on
/// (a picture is documentation, not an assertion).
fn shot_failed(dir: &Path, name: &str, why: &str) {
    eprintln!("warning: the screenshot {name} was not taken: {why}");
    let _ = fs::remove_file(dir.join(format!("{name}.png")));
    fs::write(dir.join(format!("{name}.png.failed")), why).unwrap();
}

/// A screenshot with the element `id` in the middle of the window (what `shot` shows is the
/// top of the screen).
async fn shot_at(c: &Client, dir: &Path, name: &str, id: &str) {
    let _ = c
        .execute(
            &format!("document.querySelector(\"[data-testid='{id}']\").scrollIntoView({{block: 'center'}})"),
            vec![],
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    screenshot(c, dir, name).await;
}

async fn set_theme(c: &Client, theme: &str) {
    by(c, "nav-settings").await.click().await.unwrap();
    by(c, "theme").await.select_by_value(theme).await.unwrap();
    until(
        c,
        "theme",
        &format!("return document.documentElement.dataset.theme === '{theme}'"),
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn researcher_flow_in_the_real_app_ends_in_an_eml_gpg_opens() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the app needs an X display: run the suite under xvfb-run (scripts/test.sh does)"
    );
    let dir = scratch();
    let d = dir.path();
    let gpg = Gpg::new();
    let team = gpg.generate(
        "Novu Security <security@novu.co>",
        "ed25519",
        "default",
        Some("cv25519"),
        &[],
    );
    gpg.export(&team, &d.join("team.asc"));
    let armored = fs::read_to_string(d.join("team.asc")).unwrap();
    let attachment = noise(200_000, 11);
    fs::write(d.join("poc.bin"), &attachment).unwrap();
    let picks = d.join("picks.txt");
    fs::write(&picks, "").unwrap();
    let answer = |path: &Path| fs::write(&picks, path.display().to_string()).unwrap();

    let (driver, c) = session(&[
        ("EMBARGO_HOME", d.join("home").as_os_str()),
        // Native dialogs cannot be clicked over WebDriver: the debug app answers them from
        // this file, one path per dialog (see picker.rs).
        ("EMBARGO_E2E_PICKS", picks.as_os_str()),
    ])
    .await;
    // Into the target dir: a test run never dirties the tree. scripts/screenshots.sh copies
    // them into docs/screenshots on purpose.
    let shots = screenshot_dir();
    fs::create_dir_all(&shots).unwrap();
    assert_eq!(c.title().await.unwrap(), "Embargo");
    // The first run asks what the app is for: a researcher's screens, no team inbox.
    by(&c, "role-researcher").await.click().await.unwrap();
    until(
        &c,
        "the researcher's screens",
        "return !document.querySelector(\"[data-testid='role-ask']\") && !document.querySelector(\"[data-testid='nav-inbox']\")",
    )
    .await;

    // Programs: pick Novu, paste the team key made by gpg, compare, confirm.
    by(&c, "program-novu").await.click().await.unwrap();
    type_into(&c, "team-key-text", &armored).await;
    by(&c, "team-key-inspect").await.click().await.unwrap();
    let grouped: Vec<String> = team
        .as_bytes()
        .chunks(4)
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .collect();
    let shown = text_of(&c, "candidate-fingerprint").await;
    assert_eq!(
        shown.split_whitespace().collect::<String>(),
        team,
        "fingerprint shown: {shown}"
    );
    assert!(
        shown.contains(&grouped[..2].join(" ")),
        "grouped by four: {shown}"
    );
    // The confirm button stays off until the published fingerprint is typed; a wrong one is
    // refused by the backend.
    assert!(!by(&c, "team-key-confirm").await.is_enabled().await.unwrap());
    type_into(&c, "team-key-typed", &"AB".repeat(20)).await;
    by(&c, "team-key-confirm").await.click().await.unwrap();
    until(
        &c,
        "the mismatch",
        "return document.body.textContent.includes('not the key the team published')",
    )
    .await;
    let typed = by(&c, "team-key-typed").await;
    typed.clear().await.unwrap();
    typed
        .send_keys(&grouped.join(" ").to_lowercase())
        .await
        .unwrap();
    by(&c, "team-key-confirm").await.click().await.unwrap();
    let pinned = text_of(&c, "pinned-fingerprint").await;
    assert_eq!(pinned.split_whitespace().collect::<String>(), team);
    shot(&c, &shots, "programs-light").await;

    // Report: fill it in; `dos` shows the policy's words; `idor` does not.
    by(&c, "nav-report").await.click().await.unwrap();
    by(&c, "title")
        .await
        .send_keys("IDOR exposes other tenants' workflows")
        .await
        .unwrap();
    by(&c, "asset-0")
        .await
        .send_keys("https://api.novu.co/v1/workflows")
        .await
        .unwrap();
    by(&c, "class").await.select_by_value("dos").await.unwrap();
    let warning = text_of(&c, "oos-warning").await;
    assert!(
        warning.contains("Any activity that could lead to the disruption of our service (DoS)."),
        "{warning}"
    );
    by(&c, "class").await.select_by_value("idor").await.unwrap();
    until(
        &c,
        "the warning to go",
        "return !document.querySelector(\"[data-testid='oos-warning']\")",
    )
    .await;
    let cwe = by(&c, "cwe").await;
    cwe.clear().await.unwrap();
    cwe.send_keys("CWE-639").await.unwrap();
    // CVSS is optional, folded until opened.
    by(&c, "cvss-fold").await.click().await.unwrap();
    by(&c, "cvss-vector")
        .await
        .send_keys("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N")
        .await
        .unwrap();
    until(&c, "the CVSS score", "const s = document.querySelector(\"[data-testid='cvss-score']\"); return !!s && s.textContent.includes('6.5')").await;
    let body = by(&c, "body").await;
    body.clear().await.unwrap();
    type_into(&c, "body", "## Summary\n\nAny member reads another tenant's workflows by id.\n\n## Steps to reproduce\n\n1. GET /v1/workflows/<other id>\n").await;
    // Wait for the whole body in the preview: it moves what is below it as it renders.
    until(&c, "the preview", "const p = document.querySelector(\"[data-testid='body-preview']\"); return !!p && p.innerHTML.includes('<h2') && p.textContent.includes('GET /v1/workflows')").await;
    // "Add files…" opens the backend's dialog (scripted here); the table updates from its event.
    answer(&d.join("poc.bin"));
    by(&c, "attachment-add").await.click().await.unwrap();
    by(&c, "attachment-poc.bin").await;
    // Script in the page cannot name a file of its own choosing: only picked files have tokens.
    let refused = invoke_refused(&c, "add_dropped", json!({ "tokens": [4242] })).await;
    assert_eq!(refused["code"], "not_found", "{refused}");
    // The command that adds files takes no path: one named by script is ignored, and with
    // the dialog cancelled (no scripted answer) nothing is added.
    let script = "const [done] = arguments; window.__TAURI_INTERNALS__.invoke('choose_attachments', { path: '/etc/passwd', paths: ['/etc/passwd'] }).then(r => done({ok: r}), e => done({err: e}));";
    let chosen = c.execute_async(script, vec![]).await.unwrap();
    let names: Vec<&str> = chosen["ok"]
        .as_array()
        .unwrap_or_else(|| panic!("{chosen}"))
        .iter()
        .map(|a| a["meta"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["poc.bin"],
        "no file of the script's naming: {chosen}"
    );
    by(&c, "credit-named").await.click().await.unwrap();
    by(&c, "credit-name")
        .await
        .send_keys("Ada Lovelace")
        .await
        .unwrap();
    for id in [
        "no-automated-scanning",
        "no-exploitation",
        "confidential-until-fixed",
        "no-social-engineering-or-dos",
    ] {
        by(&c, &format!("attest-{id}")).await.click().await.unwrap();
    }
    until(
        &c,
        "a clean report",
        "return document.querySelectorAll(\"[data-testid^='finding-']\").length === 0",
    )
    .await;
    shot(&c, &shots, "report-light").await;

    // Review & seal: recipient and format; "Export .eml…" asks the backend's save dialog.
    by(&c, "nav-review").await.click().await.unwrap();
    let recipient = text_of(&c, "review-recipient").await;
    assert_eq!(recipient.split_whitespace().collect::<String>(), team);
    // In plain words: readable by every OpenPGP tool (SEIPDv1, named in the folded details).
    assert_eq!(text_of(&c, "review-format").await, "Standard OpenPGP");
    assert!(text_of(&c, "review-text")
        .await
        .contains("Title:       IDOR exposes other tenants' workflows"));
    shot(&c, &shots, "review-light").await;
    let eml = d.join("report.eml");
    answer(&eml);
    by(&c, "export-eml").await.click().await.unwrap();
    let banner = text_of(&c, "export-result").await;
    assert!(banner.contains("report.eml"), "{banner}");
    let steps = text_of(&c, "send-it-steps").await;
    assert!(
        steps.contains("Open report.eml with your mail client"),
        "{steps}"
    );
    assert_eq!(text_of(&c, "send-it-to").await, "security@novu.co");
    shot_at(&c, &shots, "send-it-light", "send-it").await;
    by(&c, "nav-settings").await.click().await.unwrap();
    by(&c, "theme").await;
    shot(&c, &shots, "settings-light").await;

    // Dark mode, every screen.
    set_theme(&c, "dark").await;
    shot(&c, &shots, "settings-dark").await;
    for screen in ["programs", "report", "review"] {
        by(&c, &format!("nav-{screen}"))
            .await
            .click()
            .await
            .unwrap();
        shot(&c, &shots, &format!("{screen}-dark")).await;
    }
    set_theme(&c, "light").await;
    // The Drafts screen, without an identity, says nothing is saved (its screenshots, with a
    // draft listed, come from the vault flow).
    by(&c, "nav-drafts").await.click().await.unwrap();
    assert!(text_of(&c, "no-identity").await.contains("not being saved"));
    c.close().await.unwrap();
    drop(driver);

    // The team's side: gpg decrypts the .eml's encrypted part; the report and attachment are there.
    let raw = fs::read(&eml).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(mail.ctype.mimetype, "multipart/encrypted");
    fs::write(
        d.join("part2.asc"),
        mail.subparts[1].get_body_raw().unwrap(),
    )
    .unwrap();
    gpg.export_secret(&team, &d.join("team-secret.asc"));
    gpg.run([
        "--output",
        d.join("plain.eml").to_str().unwrap(),
        "--decrypt",
        d.join("part2.asc").to_str().unwrap(),
    ]);
    let plain = fs::read(d.join("plain.eml")).unwrap();
    assert!(String::from_utf8_lossy(&plain)
        .contains("Any member reads another tenant's workflows by id."));
    let parts = python_parts(&d.join("plain.eml"));
    let poc = parts
        .iter()
        .find(|(n, _)| n == "poc.bin")
        .expect("attachment part");
    assert_eq!(poc.1, sha256_hex(&attachment), "attachment byte for byte");
}

/// "Add program" in the real app against a loopback HTTPS server (test CA, DNS override, the
/// same settings the CLI reads): discovery finds the team's key on two sources, the user types
/// the published fingerprint to pin it, and for a domain with no key the app offers the key
/// request that says nothing about the finding.
#[tokio::test(flavor = "current_thread")]
async fn add_program_from_a_domain_in_the_real_app() {
    use crate::discover::{program_server, security_txt, team_key, Reply, TEXT};
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the app needs an X display: run the suite under xvfb-run (scripts/test.sh does)"
    );
    let (_, cert) = team_key("Team Security <security@team.test>");
    let server = program_server(&cert);
    // A second server for the domain without a key (the first one's routes are fixed).
    let nokey = crate::discover::Server::start(vec![(
        "nokey.test",
        "/.well-known/security.txt",
        Reply::Ok(TEXT, security_txt("nokey.test", 90, "")),
    )]);
    let dir = scratch();
    let d = dir.path();
    fs::create_dir_all(d.join("acme")).unwrap();
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/embargo-core/programs/novu-SECURITY.md"),
        d.join("acme/SECURITY.md"),
    )
    .unwrap();
    fs::write(
        d.join("picks.txt"),
        d.join("acme/SECURITY.md").display().to_string(),
    )
    .unwrap();
    let resolve = format!("{},{}", server.resolve(), nokey.resolve());
    // One CA file trusting both test CAs.
    let mut cas = fs::read(server.ca_file()).unwrap();
    cas.extend(fs::read(nokey.ca_file()).unwrap());
    fs::write(d.join("cas.pem"), cas).unwrap();
    let (driver, c) = session(&[
        ("EMBARGO_HOME", d.join("home").as_os_str()),
        ("EMBARGO_CA_FILE", d.join("cas.pem").as_os_str()),
        ("EMBARGO_RESOLVE", resolve.as_ref()),
        ("EMBARGO_VKS_URL", "https://vks.test".as_ref()),
        ("EMBARGO_PROTON_URL", "https://proton.test".as_ref()),
        ("EMBARGO_E2E_PICKS", d.join("picks.txt").as_os_str()),
    ])
    .await;
    let shots = screenshot_dir();
    fs::create_dir_all(&shots).unwrap();

    by(&c, "program-add").await.click().await.unwrap();
    type_into(&c, "discover-domain", "team.test").await;
    by(&c, "discover-find").await.click().await.unwrap();
    let shown = text_of(&c, "discover-candidate").await;
    let fpr = cert.fingerprint().to_hex();
    assert_eq!(shown.split_whitespace().collect::<String>(), fpr);
    let agreed = text_of(&c, "discover-agreed").await;
    assert!(agreed.contains("2 sources agree"), "{agreed}");
    let trust = text_of(&c, "trust-team-test").await;
    assert!(trust.contains("Unverified key"), "{trust}");
    shot(&c, &shots, "add-program-light").await;
    // The published fingerprint, typed in groups of four and lower case.
    let grouped = embargo_core::keys::grouped(&cert.fingerprint()).to_lowercase();
    type_into(&c, "discover-typed", &grouped).await;
    by(&c, "discover-pin").await.click().await.unwrap();
    let pinned = text_of(&c, "discover-pinned").await;
    assert_eq!(
        pinned
            .trim_start_matches("Pinned key")
            .split_whitespace()
            .collect::<String>(),
        fpr
    );
    until(
        &c,
        "the list to show the pin",
        "return document.querySelector(\"[data-testid='trust-team-test']\").textContent.includes('Pinned key')",
    )
    .await;
    // Pinned in the data directory the CLI shares.
    let store = embargo_core::store::Store::at(d.join("home"));
    assert_eq!(
        store.program("team-test").unwrap().team_keys[0].fingerprint,
        fpr
    );

    // No key anywhere: the request, and nothing about the finding.
    let domain = by(&c, "discover-domain").await;
    domain.clear().await.unwrap();
    domain.send_keys("nokey.test").await.unwrap();
    by(&c, "discover-find").await.click().await.unwrap();
    by(&c, "discover-no-key").await;
    assert_eq!(text_of(&c, "key-request-to").await, "security@nokey.test");
    let body = text_of(&c, "key-request-body").await;
    assert!(
        body.contains("I would like to report a security issue to you confidentially"),
        "{body}"
    );
    let trust = text_of(&c, "trust-nokey-test").await;
    assert!(trust.contains("No team key yet"), "{trust}");
    shot(&c, &shots, "no-key-light").await;

    // A SECURITY.md picked in the (scripted) file dialog becomes a program.
    by(&c, "program-import").await.click().await.unwrap();
    let result = text_of(&c, "import-result").await;
    assert!(result.contains("Imported Acme"), "{result}");
    let trust = text_of(&c, "trust-acme").await;
    assert!(trust.contains("No team key yet"), "{trust}");
    assert_eq!(
        store
            .program("acme")
            .unwrap()
            .response
            .unwrap()
            .business_days,
        3,
        "Novu's promise, imported"
    );
    c.close().await.unwrap();
    drop(driver);
}

/// The app submits to a real `embargo-intake`: a program with an intake endpoint and a pinned
/// key, a report written in the app, "Submit to the team", the receipt shown, its status asked
/// from the Sent screen; the team pulls it with the CLI and reads it.
#[tokio::test(flavor = "current_thread")]
async fn the_app_submits_to_an_intake_and_shows_the_status() {
    use crate::intake::{sqlite, Server, Team};
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the app needs an X display: run the suite under xvfb-run (scripts/test.sh does)"
    );
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let server = Server::start(&backend, &team, &[]);
    let dir = scratch();
    let d = dir.path();
    intake_program(&d.join("home"), &team, &server.url);
    let (driver, c) = session(&[("EMBARGO_HOME", d.join("home").as_os_str())]).await;
    let shots = screenshot_dir();
    fs::create_dir_all(&shots).unwrap();

    write_acme_report(&c, "Submitted from the app", "anonymous").await;
    by(&c, "nav-review").await.click().await.unwrap();
    click_when_enabled(&c, "submit-intake").await;
    let receipt = text_of(&c, "submit-receipt").await;
    eprintln!("submitted: receipt {receipt:?}");
    assert_eq!(receipt.trim().len(), 26, "{receipt}");
    let receipt = receipt.trim().to_owned();
    shot(&c, &shots, "submitted-light").await;
    // Sent asks the intake by itself when it opens: the status in words.
    by(&c, "nav-sent").await.click().await.unwrap();
    let status = by(&c, &format!("status-{receipt}")).await;
    assert_eq!(
        status.attr("data-status").await.unwrap().as_deref(),
        Some("received")
    );
    let words = status.text().await.unwrap();
    assert_eq!(words.trim(), "received, not looked at yet");
    c.close().await.unwrap();
    drop(driver);

    // The team reads it.
    let t = tempfile::tempdir().unwrap();
    let out = team_side(
        t.path(),
        &team,
        &server.url,
        &["team", "pull", "--key", "team.key", "-o", "inbox"],
    );
    expect_code(&out, 0);
    let report =
        fs::read_to_string(t.path().join("inbox").join(&receipt).join("report.md")).unwrap();
    assert!(report.contains("Submitted from the app"), "{report}");
}

/// The app process started for `home` (tauri-driver → WebKitWebDriver → embargo-app).
fn app_pid(home: &Path) -> u32 {
    let want = format!("EMBARGO_HOME={}", home.display());
    let bin = fs::canonicalize(app_bin()).unwrap();
    let start = Instant::now();
    loop {
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let exe = fs::read_link(e.path().join("exe")).ok();
            if exe.as_deref() != Some(bin.as_path()) {
                continue;
            }
            let env = fs::read(e.path().join("environ")).unwrap_or_default();
            if env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()) {
                return pid;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no embargo-app process for {}",
            home.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The vault in the real app: the identity is made in Settings, the draft autosaves while the
/// researcher types, the app is killed with SIGKILL, and the next start says the draft was
/// recovered, unlocks with the passphrase and puts the text back. Nothing under HOME, TMPDIR,
/// the XDG dirs (where WebKit keeps the webview's data) or the data directory holds the
/// report's canary in UTF-8 or UTF-16, and gpg alone recovers the draft with the passphrase.
#[tokio::test(flavor = "current_thread")]
async fn the_app_autosaves_encrypted_and_recovers_after_a_crash() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the app needs an X display: run the suite under xvfb-run (scripts/test.sh does)"
    );
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let home = r.join("embargo");
    let env = confined_env(r);
    let env_refs: Vec<(&str, &std::ffi::OsStr)> =
        env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let canary = format!(
        "CANARY-{:x}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        std::process::id()
    );
    let passphrase = "correct horse battery staple";

    // First run: create the identity, write, let autosave run, crash.
    let (driver, c) = session(&env_refs).await;
    let pid = app_pid(&home);
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(
        core.split_whitespace().skip(4).take(2).all(|v| v == "0"),
        "the app writes no core file: {core}"
    );
    until(
        &c,
        "the sidebar to say nothing is saved without an identity",
        "const t = document.querySelector(\"[data-testid='sidebar-save']\"); return !!t && t.textContent.includes('not saved')",
    )
    .await;
    by(&c, "nav-settings").await.click().await.unwrap();
    type_into(&c, "identity-name", "Ada").await;
    type_into(&c, "identity-pass1", passphrase).await;
    type_into(&c, "identity-pass2", passphrase).await;
    by(&c, "identity-create-submit")
        .await
        .click()
        .await
        .unwrap();
    let fingerprint = text_of(&c, "identity-fingerprint").await;
    assert!(fingerprint.replace(' ', "").len() >= 40, "{fingerprint}");
    let cleared = c
        .execute(
            "return ['identity-pass1','identity-pass2'].every(id => !document.querySelector(`[data-testid='${id}']`) || document.querySelector(`[data-testid='${id}']`).value === '')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(cleared, Value::Bool(true), "passphrase fields are cleared");
    by(&c, "nav-report").await.click().await.unwrap();
    type_into(&c, "title", &format!("Stored XSS {canary}")).await;
    type_into(
        &c,
        "body",
        &format!("\n\nThe payload {canary} runs in every viewer's session.\n"),
    )
    .await;
    until(
        &c,
        "the autosave",
        "const t = document.querySelector(\"[data-testid='sidebar-save']\").textContent; return t.includes('Saved') && !t.includes('Saving')",
    )
    .await;
    let drafts = home.join("vault/drafts");
    assert_eq!(fs::read_dir(&drafts).unwrap().count(), 1, "one draft");
    by(&c, "nav-drafts").await.click().await.unwrap();
    by(&c, "drafts-list").await;
    until(
        &c,
        "the draft listed by its title",
        &format!("return document.querySelector(\"[data-testid='drafts-list']\").textContent.includes('{canary}')"),
    )
    .await;
    let shots = screenshot_dir();
    fs::create_dir_all(&shots).unwrap();
    shot(&c, &shots, "drafts-light").await;
    set_theme(&c, "dark").await;
    by(&c, "nav-drafts").await.click().await.unwrap();
    by(&c, "drafts-list").await;
    shot(&c, &shots, "drafts-dark").await;
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
    drop(driver);

    // Nothing in the clear anywhere the app or its webview writes.
    crate::vault::assert_nowhere(r, &canary);

    // Second run: the crash is noticed, the passphrase unlocks, the text is back.
    let (driver, c) = session(&env_refs).await;
    let notice = text_of(&c, "recovered-notice").await;
    assert!(notice.contains("did not close properly"), "{notice}");
    type_into(&c, "unlock-passphrase", passphrase).await;
    by(&c, "unlock").await.click().await.unwrap();
    until(
        &c,
        "the recovered draft on screen",
        &format!(
            "const t = document.querySelector(\"[data-testid='title']\"); return !!t && t.value.includes('{canary}')"
        ),
    )
    .await;
    let body = by(&c, "body")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(body.contains(&canary), "{body}");
    c.close().await.unwrap();
    drop(driver);

    // The README's recovery, with gpg alone: import the identity, decrypt the newest version.
    let gpg = Gpg::new();
    let pw = r.join("pw");
    fs::write(&pw, passphrase).unwrap();
    let ok = gpg
        .cmd()
        .args(["--batch", "--import"])
        .arg(home.join("vault/identity.asc"))
        .status()
        .unwrap();
    assert!(ok.success());
    let draft_dir = fs::read_dir(&drafts)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut versions: Vec<PathBuf> = fs::read_dir(&draft_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('0'))
        .collect();
    versions.sort();
    let out = gpg
        .cmd()
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase-file",
        ])
        .arg(&pw)
        .arg("--decrypt")
        .arg(versions.last().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("+++"), "a report file: {text}");
    assert!(text.contains(&canary));
}

/// Runs `embargo` for the team in `t` (token and team key files written there).
fn team_side(
    t: &Path,
    team: &crate::intake::Team,
    url: &str,
    args: &[&str],
) -> std::process::Output {
    if !t.join("team.key").exists() {
        team.write_secrets(t);
    }
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--intake", url, "--token-file", "token"]);
    embargo(t, all)
}

/// A program with an intake and a pinned team key, in a new data directory.
fn intake_program(
    home: &Path,
    team: &crate::intake::Team,
    url: &str,
) -> embargo_core::store::Store {
    let store = embargo_core::store::Store::at(home.to_owned());
    store
        .add_program("Acme", "security@acme.test", Some(url))
        .unwrap();
    store
        .pin_team_key(
            "acme",
            &team.key.clone().strip_secret_key_material(),
            "file:team.asc",
            embargo_core::store::PinMode::Only,
        )
        .unwrap();
    // Past the first run's question: every screen.
    embargo_core::usecase::settings::set_role(&store, embargo_core::store::Role::Both).unwrap();
    store
}

/// Fills the Report screen with a clean report to Acme: `credit` is `anonymous` or a name.
async fn write_acme_report(c: &Client, title: &str, credit: &str) {
    by(c, "program-acme").await.click().await.unwrap();
    by(c, "program-use").await.click().await.unwrap();
    by(c, "nav-report").await.click().await.unwrap();
    by(c, "title").await.send_keys(title).await.unwrap();
    by(c, "asset-0")
        .await
        .send_keys("https://app.acme.test/orders")
        .await
        .unwrap();
    by(c, "class").await.select_by_value("idor").await.unwrap();
    let body = by(c, "body").await;
    body.clear().await.unwrap();
    type_into(
        c,
        "body",
        "## Summary\n\nOrders of other customers by id.\n\n## Steps to reproduce\n\n1. GET /orders/<other id>\n\n## Impact\n\nData of every customer.\n",
    )
    .await;
    // The preview renders after typing pauses and moves what is below it: a click before that
    // lands where the button was.
    until(
        c,
        "the preview of the body",
        "const p = document.querySelector(\"[data-testid='body-preview']\"); return !!p && p.textContent.includes('Data of every customer.')",
    )
    .await;
    let radio = if credit == "anonymous" {
        "credit-anonymous"
    } else {
        "credit-named"
    };
    by(c, radio).await.click().await.unwrap();
    until(
        c,
        "the credit choice",
        &format!("return document.querySelector(\"[data-testid='{radio}']\").checked"),
    )
    .await;
    if credit != "anonymous" {
        by(c, "credit-name").await.send_keys(credit).await.unwrap();
    }
    until(
        c,
        "a clean report",
        "return document.querySelectorAll(\"[data-testid^='finding-']\").length === 0",
    )
    .await;
}

async fn click_when_enabled(c: &Client, id: &str) {
    until(
        c,
        &format!("{id} to be enabled"),
        &format!(
            "const b = document.querySelector(\"[data-testid='{id}']\"); return !!b && !b.disabled"
        ),
    )
    .await;
    by(c, id).await.click().await.unwrap();
}

/// A private session bus with a desktop notification service that records what it is asked to
/// show (tests/peers/notifications.py): the app's notifications as a desktop gets them from the
/// notification plugin, over D-Bus.
struct Notifications {
    child: Child,
    log: PathBuf,
    address: String,
}

impl Notifications {
    fn start(dir: &Path) -> Notifications {
        use std::io::BufRead as _;
        let log = dir.join("notifications.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/notifications.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with dbus and gi (scripts/setup-system.sh test)");
        let mut address = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        assert!(
            address.starts_with("unix:"),
            "the notification service gives its bus: {address:?}"
        );
        Notifications {
            child,
            log,
            address: address.trim().to_owned(),
        }
    }

    /// Every notification shown so far: `{app_name, summary, body}`.
    fn shown(&self) -> Vec<Value> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits (at most 30 s) until a notification whose body matches `body` was shown.
    async fn wait_for(&self, what: &str, body: impl Fn(&str) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some(n) = self
                .shown()
                .into_iter()
                .find(|n| body(n["body"].as_str().unwrap_or("")))
            {
                return n;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no notification {what}; shown: {:?}",
                self.shown()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The researcher's whole loop in the app, no CLI on their side: an identity, a named report
/// submitted and signed with that identity by default; the team pulls it (signed by that
/// identity), sets it to triaged and replies, then a second reply comes signed by a key that is
/// not pinned; the Sent screen shows the status in words, the first reply decrypted and
/// verified, the second flagged as not verified.
#[tokio::test(flavor = "current_thread")]
async fn the_app_signs_with_the_identity_and_reads_verified_replies() {
    use crate::intake::{sqlite, Server, Team};
    use embargo_core::openpgp::crypto::Password;
    use embargo_core::usecase::{adopt_identity, NewIdentity};
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the app needs an X display: run the suite under xvfb-run (scripts/test.sh does)"
    );
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let server = Server::start(&backend, &team, &[]);
    let dir = scratch();
    let d = dir.path();
    let home = d.join("home");
    let store = intake_program(&home, &team, &server.url);
    let passphrase = "correct horse battery staple";
    let (identity, _) = adopt_identity(
        &store,
        NewIdentity::Generate {
            userid: "Ada Lovelace <ada@example.org>",
        },
        Password::from(passphrase),
    )
    .unwrap();
    let (driver, c) = session(&[("EMBARGO_HOME", home.as_os_str())]).await;

    write_acme_report(&c, "Signed from the app", "Ada Lovelace").await;
    by(&c, "nav-review").await.click().await.unwrap();
    // The identity signs by default; the vault is locked, so Review asks to unlock it.
    let note = text_of(&c, "sign-note").await;
    assert!(note.contains("your identity"), "{note}");
    type_into(&c, "sign-unlock-passphrase", passphrase).await;
    by(&c, "sign-unlock").await.click().await.unwrap();
    until(
        &c,
        "the unlock",
        "return !document.querySelector(\"[data-testid='sign-unlock']\")",
    )
    .await;
    let shown = text_of(&c, "signing-fingerprint").await;
    assert_eq!(
        shown.split_whitespace().collect::<String>(),
        identity.fingerprint().to_hex()
    );
    let shots = screenshot_dir();
    fs::create_dir_all(&shots).unwrap();
    shot_at(&c, &shots, "review-signed-light", "sign-note").await;
    click_when_enabled(&c, "submit-intake").await;
    let receipt = text_of(&c, "submit-receipt").await.trim().to_owned();
    assert_eq!(receipt.len(), 26, "{receipt}");

    // The team: the report is signed by the researcher's identity.
    let t = tempfile::tempdir().unwrap();
    let out = team_side(
        t.path(),
        &team,
        &server.url,
        &["team", "pull", "--key", "team.key", "-o", "inbox"],
    );
    expect_code(&out, 0);
    let pulled = stdout(&out);
    assert!(
        pulled.contains(&identity.fingerprint().to_hex()) && pulled.contains("good signature"),
        "signed by the identity: {pulled}"
    );
    let carried = embargo_core::keys::read_certs(
        &t.path().join("inbox").join(&receipt).join("researcher.asc"),
    )
    .unwrap();
    assert_eq!(carried[0].fingerprint(), identity.fingerprint());
    expect_code(
        &team_side(
            t.path(),
            &team,
            &server.url,
            &["team", "status", &receipt, "triaged"],
        ),
        0,
    );
    fs::write(
        t.path().join("reply.txt"),
        "Thanks Ada, reproduced. Fix on Friday.\n",
    )
    .unwrap();
    let reply = [
        "team",
        "reply",
        receipt.as_str(),
        "--message",
        "reply.txt",
        "--key",
        "team.key",
        "--from",
        "inbox",
    ];
    expect_code(&team_side(t.path(), &team, &server.url, &reply), 0);
    // A reply signed by a key that is not pinned for the program.
    let other = embargo_core::keys::generate(&embargo_core::keys::KeySpec::new(
        "Mallory <security@acme.test>",
        embargo_core::keys::KeyProfile::Rfc4880,
    ))
    .unwrap();
    {
        use embargo_core::openpgp::serialize::SerializeInto;
        fs::write(
            t.path().join("other.key"),
            other.as_tsk().armored().to_vec().unwrap(),
        )
        .unwrap();
    }
    fs::write(t.path().join("fake.txt"), "Please send your password.\n").unwrap();
    let fake = [
        "team",
        "reply",
        receipt.as_str(),
        "--message",
        "fake.txt",
        "--key",
        "other.key",
        "--from",
        "inbox",
    ];
    expect_code(&team_side(t.path(), &team, &server.url, &fake), 0);

    // The researcher's app: status in words, the replies decrypted, one verified, one flagged.
    by(&c, "nav-sent").await.click().await.unwrap();
    let status = by(&c, &format!("status-{receipt}")).await;
    assert_eq!(
        status.attr("data-status").await.unwrap().as_deref(),
        Some("triaged")
    );
    assert_eq!(
        status.text().await.unwrap().trim(),
        "being looked at by the team"
    );
    until(
        &c,
        "two replies",
        &format!(
            "return document.querySelectorAll(\"[data-testid^='reply-{receipt}-']\").length === 2"
        ),
    )
    .await;
    let replies = c
        .execute(
            &format!("return Array.from(document.querySelectorAll(\"[data-testid^='reply-{receipt}-']\")).map(r => [r.querySelector(\"[data-testid='reply-signer']\").dataset.verified, r.querySelector(\"[data-testid='reply-signer']\").textContent, (r.querySelector(\"[data-testid='reply-text']\") || {{}}).textContent])"),
            vec![],
        )
        .await
        .unwrap();
    eprintln!("replies: {replies}");
    let replies = replies.as_array().unwrap();
    assert_eq!(replies[0][0], "true", "{replies:?}");
    assert!(replies[0][1]
        .as_str()
        .unwrap()
        .contains("Signed by the team's pinned key"));
    assert!(replies[0][2]
        .as_str()
        .unwrap()
        .contains("Thanks Ada, reproduced. Fix on Friday."));
    assert_eq!(replies[1][0], "false", "{replies:?}");
    assert!(
        replies[1][1].as_str().unwrap().contains("Not verified"),
        "{replies:?}"
    );
    assert!(replies[1][2]
        .as_str()
        .unwrap()
        .contains("Please send your password."));
    shot(&c, &shots, "sent-light").await;
    set_theme(&c, "dark").await;
    by(&c, "nav-sent").await.click().await.unwrap();
    by(&c, &format!("status-{receipt}")).await;
    shot(&c, &shots, "sent-dark").await;
    c.close().await.unwrap();
    drop(driver);
}

/// An anonymous report from the app (an identity in the vault, credit "anonymous"): the
/// bundle the team decrypts carries a reply key and nothing of the identity (its key, its user
/// IDs); the team replies to that key with the CLI; the app's Sent screen, once the vault is
/// unlocked, shows the reply decrypted and verified against the pinned team key.
#[tokio::test(flavor = "current_thread")]
async fn the_app_reads_replies_to_an_anonymous_report() {
    use crate::intake::{message, sqlite, Server, Team};
    use embargo_core::openpgp::crypto::Password;
    use embargo_core::usecase::{adopt_identity, NewIdentity};
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the app needs an X display: run the suite under xvfb-run (scripts/test.sh does)"
    );
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let server = Server::start(&backend, &team, &[]);
    let dir = scratch();
    let d = dir.path();
    let home = d.join("home");
    let store = intake_program(&home, &team, &server.url);
    let passphrase = "correct horse battery staple";
    let (identity, _) = adopt_identity(
        &store,
        NewIdentity::Generate {
            userid: "Ada Lovelace <ada@example.org>",
        },
        Password::from(passphrase),
    )
    .unwrap();
    let (driver, c) = session(&[("EMBARGO_HOME", home.as_os_str())]).await;

    write_acme_report(&c, "Anonymous from the app", "anonymous").await;
    by(&c, "nav-review").await.click().await.unwrap();
    click_when_enabled(&c, "submit-intake").await;
    let receipt = text_of(&c, "submit-receipt").await.trim().to_owned();
    assert_eq!(receipt.len(), 26, "{receipt}");

    // What the team decrypts: the reply key, nothing of the identity.
    let client = crate::intake::client();
    let stored = message(&client, &server.url, &team.token, &receipt).await;
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("stored.pgp"), &stored).unwrap();
    let mut none = |_: &str| None;
    let opened = embargo_core::message::open(
        &stored,
        std::slice::from_ref(&team.key),
        &[],
        &mut none,
        1 << 24,
    )
    .unwrap();
    let mime = String::from_utf8_lossy(&opened.text).into_owned();
    assert!(mime.contains("Anonymous from the app"), "{mime}");
    assert!(mime.contains("name=\"reply-key.asc\""), "{mime}");
    assert!(!mime.contains("researcher.asc"), "{mime}");
    for leak in ["Ada", "Lovelace", "ada@example.org"] {
        assert!(!mime.contains(leak), "{leak} in the bundle: {mime}");
    }
    let start = mime.find("-----BEGIN PGP PUBLIC KEY BLOCK-----").unwrap();
    let carried =
        embargo_core::keys::parse_certs(&mime.as_bytes()[start..], "reply-key.asc").unwrap();
    assert_eq!(carried.len(), 1);
    for k in carried[0].keys() {
        assert!(
            identity
                .keys()
                .all(|i| i.key().fingerprint() != k.key().fingerprint()),
            "the identity's key in the bundle"
        );
    }

    // The team pulls it and replies to the reply key.
    let out = team_side(
        t.path(),
        &team,
        &server.url,
        &["team", "pull", "--key", "team.key", "-o", "inbox"],
    );
    expect_code(&out, 0);
    fs::write(
        t.path().join("reply.txt"),
        "Thank you, anonymous. Fixed in 2.4.1.\n",
    )
    .unwrap();
    let reply = [
        "team",
        "reply",
        receipt.as_str(),
        "--message",
        "reply.txt",
        "--key",
        "team.key",
        "--from",
        "inbox",
    ];
    expect_code(&team_side(t.path(), &team, &server.url, &reply), 0);

    // The researcher unlocks the vault; Sent reads the reply with the report's reply key.
    by(&c, "nav-drafts").await.click().await.unwrap();
    type_into(&c, "unlock-passphrase", passphrase).await;
    by(&c, "unlock").await.click().await.unwrap();
    until(
        &c,
        "the unlock",
        "return !document.querySelector(\"[data-testid='unlock']\")",
    )
    .await;
    by(&c, "nav-sent").await.click().await.unwrap();
    until(
        &c,
        "the reply",
        &format!("return document.querySelectorAll(\"[data-testid^='reply-{receipt}-'] [data-testid='reply-text']\").length === 1"),
    )
    .await;
    let reply = c
        .execute(
            &format!("const r = document.querySelector(\"[data-testid^='reply-{receipt}-']\"); return [r.querySelector(\"[data-testid='reply-signer']\").dataset.verified, r.querySelector(\"[data-testid='reply-text']\").textContent]"),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(reply[0], "true", "{reply}");
    assert!(
        reply[1]
            .as_str()
            .unwrap()
            .contains("Thank you, anonymous. Fixed in 2.4.1."),
        "{reply}"
    );
    c.close().await.unwrap();
    drop(driver);
}

/// The team's side in the real app, two members: a researcher submits from the app
/// (anonymously, so the reply goes to the report's own reply key); member A connects in the
/// Inbox (URL, token, A's key picked in the dialog), sees the report as new with Novu's due
/// date, opens it in memory (nothing of it under HOME, TMPDIR, the XDG dirs or the data
/// directory: the canary search), sets it to triaged and replies; member B opens the same
/// report with B's own key (CLI, same core use case); the researcher's app shows the reply
/// verified and from member A.
#[tokio::test(flavor = "current_thread")]
async fn the_team_works_its_inbox_in_the_app_with_two_members() {
    use crate::intake::{sqlite, Server, Team};
    use embargo_core::openpgp::crypto::Password;
    use embargo_core::openpgp::serialize::SerializeInto;
    use embargo_core::usecase::{adopt_identity, NewIdentity};
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the app needs an X display: run the suite under xvfb-run (scripts/test.sh does)"
    );
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let dir = scratch();
    let d = dir.path();
    let bob = embargo_core::keys::generate(&embargo_core::keys::KeySpec::new(
        "Bob Triager <bob@acme.test>",
        embargo_core::keys::KeyProfile::Rfc4880,
    ))
    .unwrap();
    fs::write(d.join("bob.asc"), bob.armored().to_vec().unwrap()).unwrap();
    fs::write(d.join("bob.key"), bob.as_tsk().armored().to_vec().unwrap()).unwrap();
    fs::write(
        d.join("alice.key"),
        team.key.as_tsk().armored().to_vec().unwrap(),
    )
    .unwrap();
    let bob_asc = d.join("bob.asc");
    let server = Server::start(&backend, &team, &["--team-cert", bob_asc.to_str().unwrap()]);

    // The researcher: both members' keys pinned for Acme, an identity, an anonymous report.
    let home = d.join("home");
    let store = intake_program(&home, &team, &server.url);
    store
        .pin_team_key(
            "acme",
            &bob.clone().strip_secret_key_material(),
            "file:bob.asc",
            embargo_core::store::PinMode::Add,
        )
        .unwrap();
    let passphrase = "correct horse battery staple";
    adopt_identity(
        &store,
        NewIdentity::Generate {
            userid: "Ada Lovelace <ada@example.org>",
        },
        Password::from(passphrase),
    )
    .unwrap();
    let canary = format!(
        "CANARY{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let evidence = b"EVIDENCE: GET /orders/2 answered 200 with another customer's order\n";
    fs::write(d.join("evidence.txt"), evidence).unwrap();
    let researcher_picks = d.join("researcher-picks.txt");
    fs::write(
        &researcher_picks,
        d.join("evidence.txt").display().to_string(),
    )
    .unwrap();
    let (driver, c) = session(&[
        ("EMBARGO_HOME", home.as_os_str()),
        ("EMBARGO_E2E_PICKS", researcher_picks.as_os_str()),
    ])
    .await;
    write_acme_report(&c, &format!("Orders leak {canary}"), "anonymous").await;
    by(&c, "attachment-add").await.click().await.unwrap();
    by(&c, "attachment-evidence.txt").await;
    by(&c, "nav-review").await.click().await.unwrap();
    click_when_enabled(&c, "submit-intake").await;
    let receipt = text_of(&c, "submit-receipt").await.trim().to_owned();
    assert_eq!(receipt.len(), 26, "{receipt}");
    c.close().await.unwrap();
    drop(driver);

    // Member A, in an app of their own whose every writable place is under `r`.
    let notes = Notifications::start(d);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // Two dialogs: A's key, then where A saves the attachment (outside A's app's places).
    let picks = d.join("picks.txt");
    let saved_to = d.join("saved-evidence.txt");
    fs::write(
        &picks,
        format!("{}\n{}", d.join("alice.key").display(), saved_to.display()),
    )
    .unwrap();
    let mut env = confined_env(r);
    env.push(("EMBARGO_E2E_PICKS", picks.clone().into_os_string()));
    env.push(("DBUS_SESSION_BUS_ADDRESS", notes.address.clone().into()));
    let env_refs: Vec<(&str, &std::ffi::OsStr)> =
        env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let (driver, c) = session(&env_refs).await;
    let shots = screenshot_dir();
    fs::create_dir_all(&shots).unwrap();
    // Member A uses the app for the team; A checks for news every 5 seconds (Settings).
    by(&c, "role-team").await.click().await.unwrap();
    by(&c, "nav-settings").await.click().await.unwrap();
    let every = by(&c, "notify-seconds").await;
    every.clear().await.unwrap();
    every.send_keys("5").await.unwrap();
    by(&c, "notify-save").await.click().await.unwrap();
    let saved = text_of(&c, "notify-notice").await;
    assert!(saved.contains("every 5 seconds"), "{saved}");
    by(&c, "nav-inbox").await.click().await.unwrap();
    type_into(&c, "team-intake", &server.url).await;
    type_into(&c, "team-token", &team.token).await;
    let program = by(&c, "team-program").await;
    program.clear().await.unwrap();
    program.send_keys("novu").await.unwrap();
    type_into(&c, "team-passphrase", "violet harbour quantum saddle").await;
    by(&c, "team-connect").await.click().await.unwrap();
    let entry = by(&c, &format!("inbox-{receipt}")).await;
    assert_eq!(
        entry.attr("data-new").await.unwrap().as_deref(),
        Some("true")
    );
    let line = entry.text().await.unwrap();
    assert!(
        line.contains("answer due"),
        "Novu's 3 business days: {line}"
    );
    assert!(
        text_of(&c, "team-member")
            .await
            .contains("security@acme.test"),
        "connected as A"
    );
    shot(&c, &shots, "inbox-light").await;
    // A second report arrives while A's app runs: A is told, and told nothing of it.
    let (code, _) = crate::intake::submit(
        &crate::intake::client(),
        &server.url,
        "second-report",
        crate::intake::encrypt(&[&team.key, &bob], b"Second finding SECRETTITLE", false),
    )
    .await
    .unwrap();
    assert_eq!(code, 201);
    let n = notes
        .wait_for("of the new report", |b| b == "A new report arrived")
        .await;
    assert_eq!(n["summary"], "Embargo", "the title names no report: {n}");
    for n in notes.shown() {
        let all = n.to_string();
        assert!(
            !all.contains(&canary) && !all.contains("SECRETTITLE") && !all.contains("Orders"),
            "a notification names nothing of a report: {all}"
        );
    }
    by(&c, &format!("inbox-open-{receipt}"))
        .await
        .click()
        .await
        .unwrap();
    let text = text_of(&c, "team-report-text").await;
    assert!(text.contains(&canary), "{text}");
    let sig = by(&c, "team-signature").await;
    assert_eq!(
        sig.attr("data-kind").await.unwrap().as_deref(),
        Some("none")
    );
    assert!(sig.text().await.unwrap().contains("anonymous"));
    let _ = c
        .execute(
            "document.querySelector(\"[data-testid='team-report']\").scrollIntoView({block: 'start'})",
            vec![],
        )
        .await;
    shot(&c, &shots, "inbox-report-light").await;
    // The attachment, listed with its SHA-256, saved through the save dialog byte for byte.
    let listed = text_of(&c, "team-attachments").await;
    assert!(listed.contains(&sha256_hex(evidence)), "{listed}");
    by(&c, "team-save-evidence.txt")
        .await
        .click()
        .await
        .unwrap();
    let saved = text_of(&c, "team-saved").await;
    assert!(saved.contains("saved-evidence.txt"), "{saved}");
    assert_eq!(fs::read(&saved_to).unwrap(), evidence);
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&saved_to).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "readable by the member alone");
    }
    by(&c, "team-new-status")
        .await
        .select_by_value("triaged")
        .await
        .unwrap();
    by(&c, "team-set-status").await.click().await.unwrap();
    let reference_js = format!(
        "return document.querySelector(\"[data-testid='inbox-{receipt}'] [data-testid='inbox-reference']\").textContent"
    );
    until(
        &c,
        "the reference once opened",
        &format!("const t = (() => {{ {reference_js} }})(); return t.startsWith('EMB-')"),
    )
    .await;
    let reference = c.execute(&reference_js, vec![]).await.unwrap();
    let reference = reference.as_str().unwrap().to_owned();
    assert!(
        reference.starts_with("EMB-") && reference.contains("novu"),
        "opened: its reference and program: {reference}"
    );
    until(
        &c,
        "triaged in the list",
        &format!("const e = document.querySelector(\"[data-testid='inbox-{receipt}']\"); return !!e && e.dataset.status === 'triaged' && e.dataset.new === 'false'"),
    )
    .await;
    type_into(
        &c,
        "team-reply-text",
        "Alice for Acme: reproduced, fixed Friday.",
    )
    .await;
    by(&c, "team-reply-send").await.click().await.unwrap();
    let replied = text_of(&c, "team-replied").await;
    assert!(replied.contains("Reply delivered"), "{replied}");
    // The thread of replies sent, decrypted for the team, signed by A.
    until(
        &c,
        "the reply in the team's thread",
        "const t = document.querySelector(\"[data-testid='team-thread'] [data-testid='thread-text']\"); return !!t && t.textContent.includes('fixed Friday')",
    )
    .await;
    let signer = by(&c, "thread-signer").await;
    let said = signer.text().await.unwrap();
    assert_eq!(
        signer.attr("data-verified").await.unwrap().as_deref(),
        Some("true"),
        "{said}"
    );
    assert!(said.contains("security@acme.test"), "{said}");
    set_theme(&c, "dark").await;
    by(&c, "nav-inbox").await.click().await.unwrap();
    by(&c, &format!("inbox-open-{receipt}"))
        .await
        .click()
        .await
        .unwrap();
    let _ = text_of(&c, "team-report-text").await;
    shot(&c, &shots, "inbox-dark").await;
    let _ = c
        .execute(
            "document.querySelector(\"[data-testid='team-report']\").scrollIntoView({block: 'start'})",
            vec![],
        )
        .await;
    screenshot(&c, &shots, "inbox-report-dark").await;
    c.close().await.unwrap();
    drop(driver);
    // Opened in memory only: the title is nowhere member A's app could write.
    crate::vault::assert_nowhere(r, &canary);

    // Member B, in an app of their own, with B's own key: the same report opens.
    let b = tempfile::tempdir().unwrap();
    let picks_b = b.path().join("picks.txt");
    fs::write(&picks_b, d.join("bob.key").display().to_string()).unwrap();
    let b_home = b.path().join("embargo");
    let (driver, c) = session(&[
        ("EMBARGO_HOME", b_home.as_os_str()),
        ("EMBARGO_E2E_PICKS", picks_b.as_os_str()),
    ])
    .await;
    // B's first run: B uses the app for the team only, and sees the team's screens alone.
    by(&c, "role-team").await.click().await.unwrap();
    until(
        &c,
        "the team's screens alone",
        "return !document.querySelector(\"[data-testid='nav-programs']\") && !document.querySelector(\"[data-testid='role-ask']\") && !!document.querySelector(\"[data-testid='nav-inbox']\")",
    )
    .await;
    by(&c, "nav-inbox").await.click().await.unwrap();
    type_into(&c, "team-intake", &server.url).await;
    type_into(&c, "team-token", &team.token).await;
    type_into(&c, "team-passphrase", "cobalt meadow thimble ferry").await;
    by(&c, "team-connect").await.click().await.unwrap();
    assert!(
        text_of(&c, "team-member").await.contains("bob@acme.test"),
        "connected as B"
    );
    let entry = by(&c, &format!("inbox-{receipt}")).await;
    assert_eq!(
        entry.attr("data-status").await.unwrap().as_deref(),
        Some("triaged"),
        "A's status, seen by B"
    );
    assert_eq!(
        entry.attr("data-new").await.unwrap().as_deref(),
        Some("true"),
        "new to B: A opened it, B has not"
    );
    by(&c, &format!("inbox-open-{receipt}"))
        .await
        .click()
        .await
        .unwrap();
    let text = text_of(&c, "team-report-text").await;
    assert!(text.contains(&canary), "B reads it with B's key: {text}");
    // A's reply is in B's thread; A's data directory pins no other member's key, so it was
    // encrypted to the researcher and A alone, and B is told so.
    until(
        &c,
        "A's reply listed to B",
        "return document.querySelectorAll(\"[data-testid^='thread-reply-']\").length === 1",
    )
    .await;
    c.close().await.unwrap();
    drop(driver);

    // The researcher's app: told of the reply by its reference alone, then the reply
    // verified, from member A.
    embargo_core::usecase::settings::set_notify_every(&store, 5).unwrap();
    let before = notes.shown().len();
    let (driver, c) = session(&[
        ("EMBARGO_HOME", home.as_os_str()),
        (
            "DBUS_SESSION_BUS_ADDRESS",
            std::ffi::OsStr::new(&notes.address),
        ),
    ])
    .await;
    by(&c, "nav-drafts").await.click().await.unwrap();
    type_into(&c, "unlock-passphrase", passphrase).await;
    by(&c, "unlock").await.click().await.unwrap();
    until(
        &c,
        "the unlock",
        "return !document.querySelector(\"[data-testid='unlock']\")",
    )
    .await;
    let n = notes
        .wait_for("of the reply", |b| b.starts_with("A reply to EMB-"))
        .await;
    assert_eq!(n["summary"], "Embargo");
    let body = n["body"].as_str().unwrap();
    assert!(
        embargo_core::reference::Reference::parse(&body["A reply to ".len()..]).is_ok(),
        "the reference alone: {body}"
    );
    let told = notes.shown();
    assert_eq!(
        told[before..]
            .iter()
            .filter(|n| n["body"].as_str().unwrap().contains("EMB-"))
            .count(),
        1,
        "told once (the reply wins over the status): {told:?}"
    );
    for n in &told {
        let all = n.to_string();
        assert!(!all.contains(&canary) && !all.contains("Alice"), "{all}");
    }
    by(&c, "nav-sent").await.click().await.unwrap();
    until(
        &c,
        "the reply",
        &format!("return document.querySelectorAll(\"[data-testid^='reply-{receipt}-'] [data-testid='reply-text']\").length === 1"),
    )
    .await;
    let reply = c
        .execute(
            &format!("const r = document.querySelector(\"[data-testid^='reply-{receipt}-']\"); return [r.querySelector(\"[data-testid='reply-signer']\").dataset.verified, r.querySelector(\"[data-testid='reply-signer']\").textContent, r.querySelector(\"[data-testid='reply-text']\").textContent]"),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(reply[0], "true", "{reply}");
    assert!(
        reply[1].as_str().unwrap().contains("security@acme.test"),
        "from member A: {reply}"
    );
    assert!(
        reply[2]
            .as_str()
            .unwrap()
            .contains("Alice for Acme: reproduced, fixed Friday."),
        "{reply}"
    );
    c.close().await.unwrap();
    drop(driver);
}

/// Novu publishes no key in its policy. From Novu's own key panel: the key request goes to the
/// mail client through the backend (the URL it opened is recorded and checked), and discovery
/// on novu.co adds its candidates to `novu` itself — no second program — which is then pinned
/// by the fingerprint the user types.
#[tokio::test(flavor = "current_thread")]
async fn the_built_in_program_asks_for_a_key_and_discovers_it_in_place() {
    use crate::discover::{domain_server, team_key};
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the app needs an X display: run the suite under xvfb-run (scripts/test.sh does)"
    );
    let (_, cert) = team_key("Novu Security <security@novu.co>");
    let server = domain_server("novu.co", &cert, "", &[]);
    let dir = scratch();
    let d = dir.path();
    let opened = d.join("opened.log");
    let (driver, c) = session(&[
        ("EMBARGO_HOME", d.join("home").as_os_str()),
        ("EMBARGO_CA_FILE", server.ca_file().as_os_str()),
        ("EMBARGO_RESOLVE", server.resolve().as_ref()),
        ("EMBARGO_VKS_URL", "https://vks.test".as_ref()),
        ("EMBARGO_PROTON_URL", "https://proton.test".as_ref()),
        ("EMBARGO_E2E_OPENED", opened.as_os_str()),
    ])
    .await;

    by(&c, "program-novu").await.click().await.unwrap();
    by(&c, "team-key-request").await.click().await.unwrap();
    assert_eq!(text_of(&c, "key-request-to").await, "security@novu.co");
    by(&c, "key-request-open").await.click().await.unwrap();
    by(&c, "key-request-note").await;
    let shots = screenshot_dir();
    fs::create_dir_all(&shots).unwrap();
    shot(&c, &shots, "novu-key-request-light").await;
    let urls = fs::read_to_string(&opened).unwrap();
    let url = urls.lines().next().unwrap_or_default();
    assert!(
        url.starts_with("mailto:security@novu.co?subject=Request%20for%20an%20OpenPGP%20key%20to%20report%20a%20security%20issue&body=Hello"),
        "the backend opened {url:?}"
    );
    assert!(
        !url.to_lowercase().contains("xss") && !url.contains("workflow"),
        "{url}"
    );

    by(&c, "team-key-discover").await.click().await.unwrap();
    let found = text_of(&c, "team-key-discovered").await;
    assert!(found.contains("Found 1 key on novu.co"), "{found}");
    let fpr = cert.fingerprint().to_hex();
    let shown = text_of(&c, "candidate-fingerprint").await;
    assert_eq!(shown.split_whitespace().collect::<String>(), fpr);
    let store = embargo_core::store::Store::at(d.join("home"));
    let novu = store.program("novu").unwrap();
    assert_eq!(novu.candidates.len(), 1);
    assert_eq!(novu.candidates[0].fingerprint, fpr);
    assert!(
        !novu.out_of_scope.is_empty(),
        "Novu keeps its own scope and rules"
    );
    let ids: Vec<String> = store
        .programs()
        .unwrap()
        .programs
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["novu"], "no second program");
    type_into(
        &c,
        "team-key-typed",
        &embargo_core::keys::grouped(&cert.fingerprint()),
    )
    .await;
    by(&c, "team-key-confirm").await.click().await.unwrap();
    let pinned = text_of(&c, "pinned-fingerprint").await;
    assert_eq!(pinned.split_whitespace().collect::<String>(), fpr);
    assert_eq!(store.program("novu").unwrap().team_keys[0].fingerprint, fpr);
    c.close().await.unwrap();
    drop(driver);
}

/// The intake is down when the researcher submits: the report is queued (safe, encrypted), the
/// sidebar counts it; the intake comes up and the app's outbox delivers it by itself, without a
/// click; the team receives it once.
#[tokio::test(flavor = "current_thread")]
async fn the_outbox_delivers_by_itself_once_the_intake_is_up() {
    use crate::intake::{sqlite, Server, Team};
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the app needs an X display: run the suite under xvfb-run (scripts/test.sh does)"
    );
    let backend = sqlite();
    let team = Team::new(backend.dir.path(), "security@acme.test");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = scratch();
    let d = dir.path();
    let home = d.join("home");
    let store = intake_program(&home, &team, &url);
    // Submissions give up after two seconds here (the default is two minutes).
    embargo_core::usecase::settings::set_retry_for(&store, 2).unwrap();
    let (driver, c) = session(&[("EMBARGO_HOME", home.as_os_str())]).await;

    write_acme_report(&c, "Queued while the intake was down", "anonymous").await;
    by(&c, "nav-review").await.click().await.unwrap();
    click_when_enabled(&c, "submit-intake").await;
    let queued = text_of(&c, "submit-queued").await;
    assert!(queued.contains("safe in the outbox"), "{queued}");
    assert_eq!(
        text_of(&c, "outbox-count")
            .await
            .trim_start()
            .chars()
            .next(),
        Some('1')
    );

    let server = Server::start_on(&backend, &team, &format!("127.0.0.1:{port}"));
    // No click from here: the outbox tries again by itself (first wait: ten seconds).
    let start = Instant::now();
    loop {
        let gone = c
            .execute(
                "return !document.querySelector(\"[data-testid='outbox-count']\")",
                vec![],
            )
            .await
            .unwrap();
        if gone == Value::Bool(true) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the outbox did not deliver by itself"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    by(&c, "nav-sent").await.click().await.unwrap();
    until(
        &c,
        "the receipt on Sent",
        "return document.querySelectorAll(\"li[data-testid^='sent-']\").length === 1 && !document.querySelector(\"[data-testid='outbox']\")",
    )
    .await;
    c.close().await.unwrap();
    drop(driver);

    let t = tempfile::tempdir().unwrap();
    let out = team_side(
        t.path(),
        &team,
        &server.url,
        &["team", "pull", "--key", "team.key", "-o", "inbox"],
    );
    expect_code(&out, 0);
    let received: Vec<_> = fs::read_dir(t.path().join("inbox"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(received.len(), 1, "delivered exactly once");
    let report = fs::read_to_string(received[0].path().join("report.md")).unwrap();
    assert!(
        report.contains("Queued while the intake was down"),
        "{report}"
    );
    assert!(store.program("acme").is_ok());
}

/// axe-core (the version `ui/package-lock.json` pins) run inside the app's page: its serious
/// and critical violations, one line each (rule, impact, what it asks, the first elements).
pub(crate) async fn axe(c: &Client) -> Vec<String> {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let source = SOURCE.get_or_init(|| {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/axe-core/axe.min.js");
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (scripts/build-ui.sh installs it)", path.display()))
    });
    let loaded = c
        .execute("return typeof window.axe === 'object'", vec![])
        .await
        .unwrap();
    if loaded != Value::Bool(true) {
        c.execute(
            &format!("{source}\n;window.axe = axe; return true;"),
            vec![],
        )
        .await
        .expect("axe-core loads in the page");
    }
    let script = "const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] }).then(
          (r) => done({
            rules: r.passes.length + r.violations.length + r.incomplete.length,
            minor: r.violations.filter((v) => v.impact === 'minor' || v.impact === 'moderate').map((v) => v.id),
            serious: r.violations
              .filter((v) => v.impact === 'serious' || v.impact === 'critical')
              .map((v) => `${v.id} (${v.impact}): ${v.help} — ` +
                v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(', ')),
          }),
          (e) => done({ rules: 0, minor: [], serious: ['axe failed: ' + e] }));";
    let found = c.execute_async(script, vec![]).await.unwrap();
    // axe really ran: it applied its rules to the page.
    assert!(
        found["rules"].as_u64().unwrap_or(0) > 10,
        "axe-core ran: {found}"
    );
    if found["minor"].as_array().is_some_and(|m| !m.is_empty()) {
        eprintln!("axe-core, minor or moderate: {}", found["minor"]);
    }
    found["serious"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The screens, in the order of the sidebar (the role "Both" shows every one).
const EVERY_SCREEN: [&str; 7] = [
    "drafts", "programs", "report", "review", "sent", "inbox", "settings",
];

/// Opens a screen from the sidebar and waits for its heading (focus lands on it).
async fn open_screen(c: &Client, screen: &str) {
    by(c, &format!("nav-{screen}")).await.click().await.unwrap();
    until(
        c,
        &format!("the {screen} screen"),
        &format!(
            "return document.querySelector(\"[data-testid='nav-{screen}']\").getAttribute('aria-current') === 'page' && !!document.querySelector('main h1')"
        ),
    )
    .await;
}

/// Accessibility in the real app: axe-core on every screen in both themes (the Report screen
/// with its findings shown) finds no serious or critical violation; navigating puts focus on
/// the new screen's heading; and at 640 × 450 CSS px — a 1280 px window at 200 % zoom — no
/// screen scrolls sideways (tables scroll inside their own box).
#[tokio::test(flavor = "current_thread")]
async fn every_screen_passes_axe_in_both_themes_and_reflows_at_200_percent() {
    let dir = scratch();
    let env = confined_env(&dir.path().join("app"));
    let env_refs: Vec<(&str, &std::ffi::OsStr)> =
        env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let (driver, c) = session(&env_refs).await;
    by(&c, "role-both").await.click().await.unwrap();
    until(
        &c,
        "the role is kept",
        "return !document.querySelector(\"[data-testid='role-ask']\")",
    )
    .await;
    let mut problems = Vec::new();
    for theme in ["light", "dark"] {
        set_theme(&c, theme).await;
        for screen in EVERY_SCREEN {
            open_screen(&c, screen).await;
            if screen == "report" {
                by(&c, "check-report").await.click().await.unwrap();
                until(
                    &c,
                    "the findings shown",
                    "return !!document.querySelector(\"[data-testid^='finding-']\")",
                )
                .await;
            }
            let focused = c
                .execute(
                    "return document.activeElement === document.querySelector('main h1')",
                    vec![],
                )
                .await
                .unwrap();
            if screen != "report" {
                assert_eq!(focused, Value::Bool(true), "focus on {screen}'s heading");
            }
            for v in axe(&c).await {
                problems.push(format!("{screen}, {theme}: {v}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "axe-core, serious or critical:\n{}",
        problems.join("\n")
    );

    // 200 %: the window at half of 1280 × 900 in CSS pixels.
    c.set_window_size(640, 450).await.unwrap();
    until(&c, "the narrow window", "return window.innerWidth <= 660").await;
    let mut wide = Vec::new();
    for screen in EVERY_SCREEN {
        open_screen(&c, screen).await;
        let overflow = c
            .execute(
                "const m = document.querySelector('main'); const d = document.documentElement;
                 const over = [];
                 if (d.scrollWidth > window.innerWidth + 1) over.push(`page ${d.scrollWidth} > ${window.innerWidth}`);
                 if (m.scrollWidth > m.clientWidth + 1) over.push(`main ${m.scrollWidth} > ${m.clientWidth}`);
                 for (const e of m.querySelectorAll('*')) {
                   if (e.closest('.table-scroll')) continue;
                   const r = e.getBoundingClientRect();
                   if (r.width > 0 && r.right > m.getBoundingClientRect().right + 1)
                     over.push(`${e.tagName.toLowerCase()}${e.dataset.testid ? '[' + e.dataset.testid + ']' : ''}.${[...e.classList].join('.')} ends at ${Math.round(r.right)}`);
                 }
                 return over.slice(0, 6);",
                vec![],
            )
            .await
            .unwrap();
        if overflow.as_array().is_some_and(|a| !a.is_empty()) {
            wide.push(format!("{screen}: {overflow}"));
        }
    }
    assert!(
        wide.is_empty(),
        "sideways scrolling at 200 %:\n{}",
        wide.join("\n")
    );
    c.close().await.unwrap();
    drop(driver);
}

/// What a researcher does in the walk: clicks (a select's choice is one) and typed fields.
#[derive(Default)]
struct Effort {
    clicks: Vec<&'static str>,
    fields: Vec<&'static str>,
}

impl Effort {
    async fn click(&mut self, c: &Client, id: &'static str) {
        click_when_enabled(c, id).await;
        self.clicks.push(id);
    }
    async fn choose(&mut self, c: &Client, id: &'static str, value: &str) {
        by(c, id).await.select_by_value(value).await.unwrap();
        self.clicks.push(id);
    }
    async fn type_in(&mut self, c: &Client, id: &'static str, text: &str) {
        type_into(c, id, text).await;
        self.fields.push(id);
    }
}

/// A team reachable from its domain only: `team.test` publishes its key (security.txt and WKD,
/// loopback HTTPS with a test CA) and names its intake, a real `embargo-intake` serving TLS as
/// `intake.team.test`; `env` starts the app confined and pointed at them.
struct DiscoveredPlace {
    dir: tempfile::TempDir,
    team: crate::intake::Team,
    public: embargo_core::openpgp::Cert,
    intake: crate::intake::Server,
    _site: crate::discover::Server,
    _backend: crate::intake::Backend,
    env: Vec<(&'static str, std::ffi::OsString)>,
}

impl DiscoveredPlace {
    fn new() -> DiscoveredPlace {
        use crate::discover::domain_server;
        use crate::intake::{sqlite, Server, Team};
        let backend = sqlite();
        let team = Team::new(backend.dir.path(), "security@team.test");
        let dir = scratch();
        let d = dir.path();
        let tls = crate::discover::TestTls::new("Embargo walk CA", vec!["intake.team.test".into()]);
        let intake = Server::start_tls(&backend, &team, &tls.chain_pem, &tls.key_pem);
        let public = team.key.clone().strip_secret_key_material();
        let site = domain_server(
            "team.test",
            &public,
            "Embargo-Intake: https://intake.team.test/\n",
            &[],
        );
        let mut cas = fs::read(site.ca_file()).unwrap();
        cas.extend(tls.ca_pem.as_bytes());
        fs::write(d.join("cas.pem"), cas).unwrap();
        let resolve = format!("{},intake.team.test={}", site.resolve(), intake.addr);
        let mut env = confined_env(&d.join("app"));
        env.push(("EMBARGO_CA_FILE", d.join("cas.pem").into_os_string()));
        env.push(("EMBARGO_RESOLVE", resolve.into()));
        env.push(("EMBARGO_VKS_URL", "https://vks.test".into()));
        env.push(("EMBARGO_PROTON_URL", "https://proton.test".into()));
        DiscoveredPlace {
            dir,
            team,
            public,
            intake,
            _site: site,
            _backend: backend,
            env,
        }
    }
}

/// The report body the walks type: a summary, steps and the impact (no findings).
const WALK_BODY: &str = "## Summary\n\nOrders of other customers by id.\n\n## Steps to reproduce\n\n1. GET /orders/<other id>\n\n## Impact\n\nData of every customer.\n";

/// The researcher's whole way, counted: the first run, a program found from its domain (its
/// security.txt names the key and an https intake: a real `embargo-intake` behind TLS), the
/// published fingerprint typed to pin it, a clean report, and "Submit to the team" to a receipt
/// — in at most 12 clicks and 6 typed fields (README "The researcher's walk"). The team then
/// pulls the report with the CLI.
#[tokio::test(flavor = "current_thread")]
async fn a_clean_report_to_a_discovered_program_takes_few_clicks() {
    let place = DiscoveredPlace::new();
    let d = place.dir.path();
    let env_refs: Vec<(&str, &std::ffi::OsStr)> =
        place.env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let (team, intake, public) = (&place.team, &place.intake, &place.public);
    let (driver, c) = session(&env_refs).await;

    let mut walk = Effort::default();
    walk.click(&c, "role-researcher").await;
    walk.click(&c, "program-add").await;
    walk.type_in(&c, "discover-domain", "team.test").await;
    walk.click(&c, "discover-find").await;
    by(&c, "discover-candidate").await;
    let published = embargo_core::keys::grouped(&public.fingerprint());
    walk.type_in(&c, "discover-typed", &published).await;
    walk.click(&c, "discover-pin").await;
    by(&c, "discover-pinned").await;
    walk.click(&c, "discover-report").await;
    walk.type_in(&c, "title", "IDOR in /orders").await;
    walk.type_in(&c, "asset-0", "https://app.team.test/orders")
        .await;
    walk.choose(&c, "class", "idor").await;
    by(&c, "body").await.clear().await.unwrap();
    walk.type_in(&c, "body", WALK_BODY).await;
    until(
        &c,
        "the preview of the body",
        "const p = document.querySelector(\"[data-testid='body-preview']\"); return !!p && p.textContent.includes('Data of every customer.')",
    )
    .await;
    walk.click(&c, "credit-anonymous").await;
    until(
        &c,
        "a clean report",
        "return !document.querySelector(\"[data-testid='check-report']\") && document.querySelectorAll(\"[data-testid^='finding-']\").length === 0",
    )
    .await;
    walk.click(&c, "go-review").await;
    walk.click(&c, "submit-intake").await;
    let receipt = text_of(&c, "submit-receipt").await.trim().to_owned();
    assert_eq!(receipt.len(), 26, "{receipt}");
    until(
        &c,
        "every step done",
        "return [...document.querySelectorAll(\"[data-testid^='step-']\")].every(s => s.dataset.state === 'done')",
    )
    .await;
    eprintln!(
        "the walk: {} clicks ({}), {} fields ({})",
        walk.clicks.len(),
        walk.clicks.join(", "),
        walk.fields.len(),
        walk.fields.join(", ")
    );
    assert!(walk.clicks.len() <= 12, "clicks: {:?}", walk.clicks);
    assert!(walk.fields.len() <= 6, "fields: {:?}", walk.fields);
    c.close().await.unwrap();
    drop(driver);

    // The team has it.
    let t = scratch();
    let td = t.path();
    team.write_secrets(td);
    let out = Command::new(embargo_bin())
        .current_dir(td)
        .env("EMBARGO_HOME", td.join("home"))
        .env("EMBARGO_CA_FILE", d.join("cas.pem"))
        .env(
            "EMBARGO_RESOLVE",
            format!("intake.team.test={}", intake.addr),
        )
        .args([
            "team",
            "pull",
            "--intake",
            "https://intake.team.test/",
            "--token-file",
            "token",
            "--key",
            "team.key",
            "-o",
            "inbox",
        ])
        .output()
        .unwrap();
    expect_code(&out, 0);
    let opened = fs::read_to_string(td.join("inbox").join(&receipt).join("report.md")).unwrap();
    assert!(opened.contains("IDOR in /orders"), "{opened}");
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const ARROW_DOWN: &str = "\u{E015}";

/// Keys pressed on whatever has focus (WebDriver's keys to the active element): no click.
async fn press(c: &Client, keys: &str) {
    c.active_element()
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

async fn focused(c: &Client) -> String {
    c.execute(
        "return document.activeElement?.dataset?.testid ?? document.activeElement?.id ?? ''",
        vec![],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Tabs forward until one of `ids` has focus: reachable by keyboard, in at most 80 presses.
/// Returns which one, after counting the presses into `tabs`.
async fn tab_to(c: &Client, ids: &[&str], tabs: &mut usize) -> String {
    for _ in 0..80 {
        let now = focused(c).await;
        if ids.contains(&now.as_str()) {
            return now;
        }
        press(c, TAB).await;
        *tabs += 1;
    }
    panic!(
        "{ids:?} not reached by Tab (focus on {:?})",
        focused(c).await
    );
}

/// Waits for the screen whose heading starts with `heading`, the focus on that heading.
async fn heading_focused(c: &Client, heading: &str) {
    until(
        c,
        &format!("the {heading} screen, its heading focused"),
        &format!(
            "const h = document.querySelector('main h1'); return document.activeElement === h && h.textContent.startsWith('{heading}')"
        ),
    )
    .await;
}

/// The same flow as the counted walk, by keyboard alone (Tab, Enter, Space, arrows, typing —
/// a closed list takes its choice by typing the option's first letters):
/// the first run's question, a program found from its domain and pinned, a clean report, the
/// submission and its receipt. Every control on the way is reached with Tab and works with its
/// key; none is clicked.
#[tokio::test(flavor = "current_thread")]
async fn the_whole_flow_by_keyboard_alone() {
    let place = DiscoveredPlace::new();
    let env_refs: Vec<(&str, &std::ffi::OsStr)> =
        place.env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let (driver, c) = session(&env_refs).await;
    let mut tabs = 0;
    by(&c, "role-researcher").await;
    tab_to(&c, &["role-researcher"], &mut tabs).await;
    press(&c, ENTER).await;
    until(
        &c,
        "the role kept",
        "return !document.querySelector(\"[data-testid='role-ask']\")",
    )
    .await;
    tab_to(&c, &["program-add"], &mut tabs).await;
    press(&c, ENTER).await;
    tab_to(&c, &["discover-domain"], &mut tabs).await;
    press(&c, &format!("team.test{ENTER}")).await;
    by(&c, "discover-candidate").await;
    tab_to(&c, &["discover-typed"], &mut tabs).await;
    press(
        &c,
        &embargo_core::keys::grouped(&place.public.fingerprint()),
    )
    .await;
    tab_to(&c, &["discover-pin"], &mut tabs).await;
    press(&c, ENTER).await;
    by(&c, "discover-pinned").await;
    tab_to(&c, &["discover-report"], &mut tabs).await;
    press(&c, ENTER).await;
    heading_focused(&c, "Report").await;
    tab_to(&c, &["title"], &mut tabs).await;
    press(&c, "IDOR in /orders").await;
    tab_to(&c, &["asset-0"], &mut tabs).await;
    press(&c, "https://app.team.test/orders").await;
    tab_to(&c, &["class"], &mut tabs).await;
    // A closed list takes its choice by typing the option's first letters.
    press(&c, "Insecure direct").await;
    until(
        &c,
        "the class chosen by typing",
        "return document.querySelector(\"[data-testid='class']\").value === 'idor'",
    )
    .await;
    tab_to(&c, &["body"], &mut tabs).await;
    // Select what the template put there and type over it.
    c.execute("document.activeElement.select()", vec![])
        .await
        .unwrap();
    press(&c, &WALK_BODY.replace('\n', ENTER)).await;
    // Tab leaves the editor (no keyboard trap).
    let radio = tab_to(&c, &["credit-named", "credit-anonymous"], &mut tabs).await;
    if radio == "credit-named" {
        press(&c, ARROW_DOWN).await;
    } else {
        press(&c, " ").await;
    }
    until(
        &c,
        "anonymous chosen from the keyboard",
        "return document.querySelector(\"[data-testid='credit-anonymous']\").checked",
    )
    .await;
    until(
        &c,
        "a clean report",
        "return !document.querySelector(\"[data-testid='check-report']\")",
    )
    .await;
    tab_to(&c, &["go-review"], &mut tabs).await;
    press(&c, ENTER).await;
    heading_focused(&c, "Review").await;
    until(
        &c,
        "submit enabled",
        "const b = document.querySelector(\"[data-testid='submit-intake']\"); return !!b && !b.disabled",
    )
    .await;
    tab_to(&c, &["submit-intake"], &mut tabs).await;
    press(&c, ENTER).await;
    let receipt = text_of(&c, "submit-receipt").await.trim().to_owned();
    assert_eq!(receipt.len(), 26, "{receipt}");
    eprintln!("the keyboard walk: {tabs} Tab presses to a receipt");
    c.close().await.unwrap();
    drop(driver);
}

/// Asks the app's window to close as a window manager does when the user clicks its close
/// button (tests/peers/wm_close.py sends WM_DELETE_WINDOW; Xvfb runs no window manager).
fn close_like_the_user() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/wm_close.py");
    let out = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg("Embargo")
        .output()
        .expect("python3 runs tests/peers/wm_close.py");
    assert!(
        out.status.success(),
        "wm_close.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Closing the window with a draft that cannot be saved (no identity yet) asks first, in the
/// real app through the window manager's close request: "Keep writing" keeps the window and the
/// text; asked again, "Close and lose it" closes the app.
#[tokio::test(flavor = "current_thread")]
async fn closing_with_an_unsaved_draft_asks_first() {
    let dir = scratch();
    let env = confined_env(&dir.path().join("app"));
    let env_refs: Vec<(&str, &std::ffi::OsStr)> =
        env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let (driver, c) = session(&env_refs).await;
    by(&c, "role-researcher").await.click().await.unwrap();
    by(&c, "nav-report").await.click().await.unwrap();
    by(&c, "title").await.send_keys("Stored XSS").await.unwrap();
    // The backend has the edit (so the draft is one that closing would lose).
    let script = "const [done] = arguments; window.__TAURI_INTERNALS__.invoke('get_draft', {}).then(r => done(r.draft.title), e => done(''));";
    let start = Instant::now();
    while c.execute_async(script, vec![]).await.unwrap() != json!("Stored XSS") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the edit reached the backend"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    close_like_the_user();
    by(&c, "close-ask").await;
    by(&c, "close-keep").await.click().await.unwrap();
    until(
        &c,
        "kept open, the text there",
        "return !document.querySelector(\"[data-testid='close-ask']\") && document.querySelector(\"[data-testid='title']\").value === 'Stored XSS'",
    )
    .await;
    close_like_the_user();
    // The window may be gone before WebDriver answers the click itself.
    let _ = by(&c, "close-discard").await.click().await;
    let start = Instant::now();
    loop {
        // Once the window is gone, the session has nothing left to run a script in.
        match tokio::time::timeout(
            Duration::from_secs(5),
            c.execute("return document.title", vec![]),
        )
        .await
        {
            Ok(Ok(_)) if start.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Ok(_)) => panic!("the window did not close"),
            _ => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
    drop(driver);
}
