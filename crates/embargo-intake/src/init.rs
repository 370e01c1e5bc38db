//! `embargo-intake init`: a team's intake configured in one command. It writes a commented
//! configuration file (mode 0600: it may hold a database password), makes the team token
//! (printed once; only its SHA-256 is written), and renders the security.txt the team publishes
//! on its own site so that `embargo program add DOMAIN` finds the key and the intake.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What `init` is told.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The team's domain (`example.org`): security.txt's home.
    pub domain: String,
    /// The team certificates (public), absolute paths.
    pub team_certs: Vec<PathBuf>,
    /// SQLite data directory (absolute), or…
    pub data: Option<PathBuf>,
    /// …a PostgreSQL URL.
    pub database: Option<String>,
    /// Where the server listens.
    pub listen: String,
    /// The URL clients reach the intake at.
    pub public_url: String,
    /// The disclosure policy's URL, when the team has one.
    pub policy: Option<String>,
    /// TLS files (absolute), when the server terminates TLS itself.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn path(p: &Path) -> String {
    quoted(&p.display().to_string())
}

/// The configuration file's text: every setting `init` chose, each with a comment, and the
/// token's hash.
pub fn render(o: &InitOptions, token_hash: &str) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "# embargo-intake configuration for {}, written by `embargo-intake init`.\n\
         # Check it with `embargo-intake check-config --config FILE`; run it with\n\
         # `embargo-intake serve --config FILE`. Relative paths are relative to this file.\n\n",
        o.domain
    ));
    t.push_str(
        "# Where the server listens. Behind a reverse proxy (README: \"For security teams\"), keep\n\
         # it on loopback and let the proxy terminate TLS.\n",
    );
    t.push_str(&format!("listen = {}\n\n", quoted(&o.listen)));
    t.push_str("# The URL researchers' apps reach this intake at (security.txt names it).\n");
    t.push_str(&format!("public_url = {}\n\n", quoted(&o.public_url)));
    match (&o.data, &o.database) {
        (_, Some(url)) => {
            t.push_str(
                "# PostgreSQL: any number of replicas may share it (this file is 0600: the URL may\n\
                 # hold a password).\n",
            );
            t.push_str(&format!("database = {}\n\n", quoted(url)));
        }
        (Some(dir), None) => {
            t.push_str("# SQLite: the database and large bodies live here (created 0700).\n");
            t.push_str(&format!("data = {}\n\n", path(dir)));
        }
        (None, None) => {}
    }
    t.push_str("# Every report must be encrypted to each of these keys (one per team member).\n");
    t.push_str("team_certs = [\n");
    for c in &o.team_certs {
        t.push_str(&format!("    {},\n", path(c)));
    }
    t.push_str("]\n\n");
    t.push_str(
        "# SHA-256 of the team token `init` printed once; add a line per extra token\n\
         # (`embargo-intake token new`).\n",
    );
    t.push_str(&format!("team_token_hashes = [{}]\n", quoted(token_hash)));
    if let Some((cert, key)) = &o.tls {
        t.push_str("\n# TLS terminated by the server itself.\n[tls]\n");
        t.push_str(&format!("cert = {}\nkey = {}\n", path(cert), path(key)));
    }
    if let Some(policy) = &o.policy {
        t.push_str("\n# What security.txt publishes besides the contact and key.\n[program]\n");
        t.push_str(&format!("policy = {}\n", quoted(policy)));
    }
    t
}

/// Writes `text` to a new file at `dest`, mode 0600; an existing file is never replaced.
pub fn write_new(dest: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_valid_toml_the_server_reads() {
        let o = InitOptions {
            domain: "acme.test".into(),
            team_certs: vec!["/etc/embargo-intake/alice \"a\".asc".into()],
            data: Some("/var/lib/embargo-intake".into()),
            database: None,
            listen: "127.0.0.1:8080".into(),
            public_url: "https://intake.acme.test".into(),
            policy: Some("https://acme.test/security".into()),
            tls: None,
        };
        let text = render(&o, &"ab".repeat(32));
        let file: crate::config::ConfigFile = toml::from_str(&text).unwrap();
        assert_eq!(file.team_certs, o.team_certs);
        assert_eq!(file.team_token_hashes, vec!["ab".repeat(32)]);
        assert_eq!(file.data, o.data);
        assert_eq!(file.program.policy.as_deref(), o.policy.as_deref());
        assert!(text.lines().filter(|l| l.starts_with('#')).count() >= 6);
    }
}
