//! `embargo securitytxt` and `embargo discover`: argument parsing and printing around
//! embargo-core's security.txt parser and key discovery.
//!
//! Text that comes from the network (field values, user IDs, problems quoting them) is printed
//! with control characters escaped, so a hostile file cannot drive the terminal.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use embargo_core::discover::{
    self, Discovery, DiscoveryConfig, ProtonLookup, Target, DEFAULT_PROTON, DEFAULT_VKS,
};
use embargo_core::keys;
use embargo_core::net::{self, HttpTransport, NetConfig, Transport};
use embargo_core::openpgp::Cert;
use embargo_core::securitytxt::{self, SecurityTxt, Signature};
use embargo_core::text::shown;
use url::Url;

use crate::exit;
use crate::failure::Failure;

/// The discovery commands, flattened into the top-level command list.
#[derive(Subcommand)]
pub enum DiscoveryCommand {
    /// Read a security.txt (RFC 9116) from a file or an https URL: every field, verbatim, and
    /// what is wrong with it.
    #[command(after_help = exit::SECURITYTXT)]
    Securitytxt {
        /// A file, or an https:// URL.
        file_or_url: String,
        /// Print the JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// A certificate that may have signed the file; repeat for several.
        #[arg(long = "cert", value_name = "CERT_FILE")]
        certs: Vec<PathBuf>,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Find a security team's OpenPGP key for a domain or an address: security.txt, WKD,
    /// keys.openpgp.org and Proton, cross-checked.
    #[command(after_help = exit::DISCOVER)]
    Discover {
        /// A domain (example.org) or an email address (security@example.org).
        target: String,
        /// Print `{"candidates": [...], "problems": [...]}` instead of text.
        #[arg(long)]
        json: bool,
        /// When no usable key is found, print a ready-to-send email asking the team for one.
        #[arg(long, conflicts_with = "json")]
        request_key: bool,
        #[command(flatten)]
        sources: SourceArgs,
    },
}

/// Where discovery looks, shared by `discover` and `program add`.
#[derive(Args)]
pub struct SourceArgs {
    /// Base URL of the verifying key server.
    #[arg(long, env = "EMBARGO_VKS_URL", default_value = DEFAULT_VKS, value_name = "URL")]
    vks_url: Url,
    /// Base URL of Proton's key server.
    #[arg(long, env = "EMBARGO_PROTON_URL", default_value = DEFAULT_PROTON, value_name = "URL")]
    proton_url: Url,
    /// Never ask Proton's key server (by default it is asked for Proton addresses, and for
    /// addresses nothing else had a key for).
    #[arg(long)]
    no_proton: bool,
    #[command(flatten)]
    net: NetArgs,
}

impl SourceArgs {
    fn config(&self) -> DiscoveryConfig {
        DiscoveryConfig {
            vks: self.vks_url.clone(),
            proton: self.proton_url.clone(),
            proton_lookup: if self.no_proton {
                ProtonLookup::Never
            } else {
                ProtonLookup::default()
            },
            now: chrono::Utc::now(),
        }
    }

    /// Runs a discovery for a domain or an address.
    pub fn discover(&self, input: &str) -> Result<Discovery, Failure> {
        let target = Target::parse(input).map_err(fail)?;
        let transport = HttpTransport::new(&self.net.config().map_err(fail)?)
            .map_err(|e| fail(e).hint("check --proxy, EMBARGO_CA_FILE and EMBARGO_RESOLVE"))?;
        net::block_on(discover::discover(&transport, &target, &self.config())).map_err(fail)
    }
}

/// Network options shared by both commands.
#[derive(Args)]
pub struct NetArgs {
    /// Connect through a proxy: socks5h://host:port (names resolved by the proxy), socks5://,
    /// http:// or https://.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// Seconds each request may take.
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    timeout: u64,
}

impl NetArgs {
    /// The environment's settings and the proxy (`--proxy`, else the settings'), with this
    /// command's timeout.
    fn config(&self) -> Result<NetConfig, embargo_core::usecase::settings::SettingsError> {
        let store = embargo_core::store::Store::open_default()?;
        let mut cfg = embargo_core::usecase::settings::net_config(&store, self.proxy.as_deref())?;
        let t = std::time::Duration::from_secs(self.timeout.max(1));
        cfg.timeout = t;
        cfg.connect_timeout = cfg.connect_timeout.min(t);
        Ok(cfg)
    }
}

/// Runs a discovery command; returns the exit code.
pub fn run(command: DiscoveryCommand) -> Result<u8, Failure> {
    match command {
        DiscoveryCommand::Securitytxt {
            file_or_url,
            json,
            certs,
            net,
        } => cmd_securitytxt(&file_or_url, json, &certs, &net),
        DiscoveryCommand::Discover {
            target,
            json,
            request_key,
            sources,
        } => cmd_discover(&target, json, request_key, &sources),
    }
}

fn fail(message: impl ToString) -> Failure {
    Failure::new(exit::ERROR, shown(&message.to_string()))
}

/// Text from the network, with control and bidi characters escaped.
fn clean(s: &str) -> String {
    shown(s)
}

fn cmd_securitytxt(
    input: &str,
    json: bool,
    cert_files: &[PathBuf],
    net: &NetArgs,
) -> Result<u8, Failure> {
    let mut certs: Vec<Cert> = Vec::new();
    for f in cert_files {
        certs.extend(keys::read_certs(f).map_err(fail)?);
    }
    let bytes = if input.starts_with("https://") {
        let url = Url::parse(input).map_err(|e| fail(format!("{input:?} is not a URL: {e}")))?;
        let transport = HttpTransport::new(&net.config().map_err(fail)?).map_err(fail)?;
        let resp = net::block_on(transport.get(&url, discover::SECURITY_TXT_LIMIT))
            .map_err(fail)?
            .map_err(fail)?;
        if resp.status != 200 {
            return Err(fail(format!("{url} answered HTTP {}", resp.status)));
        }
        resp.body
    } else if input.contains("://") {
        return Err(fail(format!("{input}: only https:// URLs are fetched"))
            .hint("security.txt must be served over https (RFC 9116)"));
    } else {
        std::fs::read(input).map_err(|e| fail(format!("cannot read {input}: {e}")))?
    };
    let parsed = securitytxt::parse(&bytes, chrono::Utc::now(), &certs);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&parsed).map_err(|e| fail(e.to_string()))?
        );
    } else {
        print_securitytxt(&parsed);
    }
    let bad = !parsed.problems.is_empty() || parsed.signature == Signature::Invalid;
    Ok(if bad { exit::PROBLEMS } else { exit::OK })
}

fn signature_line(st: &SecurityTxt) -> String {
    match st.signature {
        Signature::None => "not signed".into(),
        Signature::Verified => format!(
            "signed, verified with {}",
            st.signer.as_deref().unwrap_or("a known key")
        ),
        Signature::Unverified => format!(
            "signed, not verified ({})",
            clean(st.signature_detail.as_deref().unwrap_or("no known key"))
        ),
        Signature::Invalid => format!(
            "signed, signature INVALID ({})",
            clean(st.signature_detail.as_deref().unwrap_or("does not verify"))
        ),
    }
}

fn print_securitytxt(st: &SecurityTxt) {
    let field =
        |name: &str, value: &str| println!("{:<22}{}", clean(&format!("{name}:")), clean(value));
    println!("{:<22}{}", "signature:", signature_line(st));
    let one = |v: &Option<String>| v.iter().cloned().collect::<Vec<_>>();
    let fields: [(&str, Vec<String>); 9] = [
        ("Contact", st.contacts.clone()),
        ("Encryption", st.encryption.clone()),
        ("Expires", one(&st.expires)),
        ("Policy", st.policy.clone()),
        ("Canonical", st.canonical.clone()),
        ("Preferred-Languages", one(&st.preferred_languages)),
        ("Acknowledgments", st.acknowledgments.clone()),
        ("Hiring", st.hiring.clone()),
        ("CSAF", st.csaf.clone()),
    ];
    for (name, values) in &fields {
        for v in values {
            field(name, v);
        }
    }
    for (name, values) in st.other.iter() {
        for v in values {
            field(name, v);
        }
    }
    if st.problems.is_empty() {
        println!("no problems");
    } else {
        println!("problems:");
        for p in &st.problems {
            println!("  - {}", clean(&p.to_string()));
        }
    }
}

fn cmd_discover(
    input: &str,
    json: bool,
    request_key: bool,
    sources: &SourceArgs,
) -> Result<u8, Failure> {
    let found = sources.discover(input)?;
    let target = &found.target;
    let usable = found.usable().count();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).map_err(|e| fail(e.to_string()))?
        );
    } else {
        print_discovery(&found);
        if usable == 0 {
            println!();
            println!("No usable key found for {}.", target.domain());
            if request_key {
                print_request(&found);
            } else {
                println!("Run again with --request-key for an email asking the team for a key.");
            }
        } else if request_key {
            println!();
            println!("A usable key was found; no key request is needed.");
        }
    }
    Ok(if usable > 0 {
        exit::OK
    } else {
        exit::NOTHING_FOUND
    })
}

pub fn print_discovery(d: &Discovery) {
    match &d.security_txt {
        Some(st) => println!("security.txt  {} ({})", st.url, signature_line(&st.parsed)),
        None => println!("security.txt  none found"),
    }
    if !d.addresses.is_empty() {
        println!("addresses     {}", clean(&d.addresses.join(", ")));
    }
    let total = d.candidates.len();
    for (i, c) in d.candidates.iter().enumerate() {
        println!();
        let state = match &c.info.problem {
            None => "usable".to_owned(),
            Some(p) => format!("NOT USABLE: {}", clean(p)),
        };
        println!("key {} of {total} ({state})", i + 1);
        println!("  fingerprint  {}", c.info.fingerprint_grouped);
        for uid in &c.user_ids {
            println!("  user ID      {}", clean(uid));
        }
        println!("  algorithm    {} (primary key)", c.info.algorithm);
        for sub in &c.info.encryption_subkeys {
            let (fpr, algo) = sub.split_once(' ').unwrap_or((sub.as_str(), ""));
            println!("               {algo} (encryption subkey {fpr})");
        }
        println!("  created      {}", c.info.created);
        println!(
            "  expires      {}",
            c.info.expires.as_deref().unwrap_or("never")
        );
        println!("  format       {}", c.format);
        let sources: Vec<&str> = c.sources.iter().map(|s| s.as_str()).collect();
        println!("  sources      {}", sources.join(", "));
        for e in &c.evidence {
            println!(
                "               {}: {} ({})",
                e.source,
                clean(&e.detail),
                clean(&e.url)
            );
        }
        if c.signed_security_txt {
            println!("  signed the security.txt");
        }
    }
    if !d.problems.is_empty() {
        println!();
        println!("problems:");
        for p in &d.problems {
            println!("  - {}", clean(&p.to_string()));
        }
    }
    if !d.lookups.is_empty() {
        println!();
        println!("looked up:");
        for l in &d.lookups {
            println!(
                "  {} — {}: {}",
                clean(&l.what),
                clean(&l.url),
                clean(&l.outcome)
            );
        }
    }
}

pub fn print_request(d: &Discovery) {
    println!();
    println!("Send this to the team (it says nothing about your finding):");
    println!();
    match d.contact() {
        Some(contact) => {
            let r = discover::key_request(&contact);
            match &r.to {
                Some(to) => println!("To: {}", clean(to)),
                None => println!(
                    "Contact: {} (paste the text into the form)",
                    clean(&r.contact)
                ),
            }
            println!("Subject: {}", r.subject);
            println!();
            print!("{}", r.body);
            if let Some(m) = &r.mailto {
                println!();
                println!("mailto link: {}", clean(m));
            }
        }
        None => {
            let r = discover::key_request("");
            println!("To: (no contact was found; use the address the team publishes)");
            println!("Subject: {}", r.subject);
            println!();
            print!("{}", r.body);
        }
    }
}
