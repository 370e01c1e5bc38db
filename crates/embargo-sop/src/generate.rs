//! `generate-key` (the core's key profiles) and `extract-cert`.

use embargo_core::keys::{self, KeyProfile, KeySpec};
use embargo_core::openpgp::crypto::Password;
use sop::errors::Error;
use sop::ops;
use sop::plumbing::PasswordsAreHumanReadable;

use crate::{fail, Certs, EmbargoSop, Keys};

/// The profile names `generate-key --profile` and `encrypt --profile` accept; `default` is the
/// first one, as the specification reserves it.
pub(crate) fn profile(name: &str, subcommand: &str) -> sop::Result<KeyProfile> {
    if name == "default" {
        return Ok(KeyProfile::default());
    }
    name.parse::<KeyProfile>()
        .map_err(|e| fail(Error::UnsupportedProfile, format!("{subcommand}: {e}")))
}

pub(crate) struct GenerateKey<'s> {
    sop: &'s EmbargoSop,
    spec: KeySpec,
}

impl<'s> GenerateKey<'s> {
    pub(crate) fn new(sop: &'s EmbargoSop) -> GenerateKey<'s> {
        GenerateKey {
            sop,
            spec: KeySpec::default(),
        }
    }
}

impl<'s> ops::GenerateKey<'s, EmbargoSop, Keys<'s>> for GenerateKey<'s> {
    fn list_profiles(&self) -> Vec<(String, String)> {
        KeyProfile::ALL
            .iter()
            .map(|p| (p.name().to_owned(), p.description().to_owned()))
            .collect()
    }

    fn profile(
        mut self: Box<Self>,
        name: &str,
    ) -> sop::Result<Box<dyn ops::GenerateKey<'s, EmbargoSop, Keys<'s>> + 's>> {
        self.spec.profile = profile(name, "generate-key")?;
        Ok(self)
    }

    fn signing_only(
        mut self: Box<Self>,
    ) -> Box<dyn ops::GenerateKey<'s, EmbargoSop, Keys<'s>> + 's> {
        self.spec.signing_only = true;
        self
    }

    fn with_key_password(
        mut self: Box<Self>,
        password: sop::Password,
    ) -> sop::Result<Box<dyn ops::GenerateKey<'s, EmbargoSop, Keys<'s>> + 's>> {
        self.spec.password = Some(Password::from(password.normalized()));
        Ok(self)
    }

    fn userid(
        mut self: Box<Self>,
        userid: &str,
    ) -> Box<dyn ops::GenerateKey<'s, EmbargoSop, Keys<'s>> + 's> {
        self.spec.userids.push(userid.to_owned());
        self
    }

    fn generate(self: Box<Self>) -> sop::Result<Keys<'s>> {
        let key = keys::generate(&self.spec).map_err(|e| fail(Error::UnspecifiedFailure, e))?;
        Ok(Keys {
            sop: self.sop,
            keys: vec![key],
            source: None,
        })
    }
}

pub(crate) struct ExtractCert;

impl<'s> ops::ExtractCert<'s, EmbargoSop, Certs<'s>, Keys<'s>> for ExtractCert {
    fn keys(self: Box<Self>, keys: &Keys<'s>) -> sop::Result<Certs<'s>> {
        Ok(Certs {
            sop: keys.sop,
            certs: keys
                .keys
                .iter()
                .map(|k| k.clone().strip_secret_key_material())
                .collect(),
            source: keys.source.clone(),
        })
    }
}
