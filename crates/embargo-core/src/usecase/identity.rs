//! The researcher's identity: made or imported, the records written before it encrypted to it,
//! and backed up.
//!
//! Everything Embargo keeps for a researcher (drafts, reply keys, receipts, the outbox) is
//! encrypted to the identity, so a copy of the data directory is safe anywhere and readable only
//! with the identity's secret key and its passphrase. The backup is that key, still locked with
//! the passphrase: restored on another machine (`adopt_identity` with `NewIdentity::Import`)
//! beside a copy of the data directory, the drafts and replies read again. A lost passphrase
//! cannot be recovered by anyone: the drafts it protects are lost with it.

use std::path::Path;

use openpgp::Cert;
use sequoia_openpgp as openpgp;

use crate::store::Store;

/// Where the researcher's identity comes from.
#[derive(Debug)]
pub enum NewIdentity<'a> {
    /// A new key for this user ID.
    Generate {
        /// Name and/or address.
        userid: &'a str,
    },
    /// An existing secret key.
    Import(&'a Cert),
}

/// Creates or imports the researcher's identity, then encrypts to it the receipts and outbox
/// entries written before it existed (the rule both shells follow); the identity and how many
/// records were migrated.
pub fn adopt_identity(
    store: &Store,
    from: NewIdentity<'_>,
    passphrase: openpgp::crypto::Password,
) -> Result<(Cert, usize), crate::vault::VaultError> {
    let vault = crate::vault::Vault::of(store);
    let cert = match from {
        NewIdentity::Generate { userid } => vault.create_identity(userid, passphrase)?,
        NewIdentity::Import(tsk) => vault.import_identity(tsk.clone(), passphrase)?,
    };
    let migrated = crate::deliver::records::Records::of(store).migrate()?;
    Ok((cert, migrated))
}

/// The identity's backup, made and checked, not yet written.
pub struct IdentityBackup {
    cert: Cert,
    armored: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for IdentityBackup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityBackup")
            .field("fingerprint", &self.cert.fingerprint().to_hex())
            .finish_non_exhaustive()
    }
}

impl IdentityBackup {
    /// The identity backed up (its public part is what shells show).
    pub fn cert(&self) -> &Cert {
        &self.cert
    }

    /// Writes it to `dest`, mode 0600, atomically; an existing `dest` is replaced only with
    /// `replace` (a save dialog asked).
    pub fn write_to(&self, dest: &Path, replace: bool) -> Result<(), crate::vault::VaultError> {
        let written = if replace {
            crate::fsutil::atomic_write(dest, &self.armored)
        } else {
            crate::fsutil::write_new(dest, &self.armored)
        };
        written.map_err(|source| crate::vault::VaultError::Io {
            path: dest.display().to_string(),
            source,
        })
    }
}

/// The identity's backup (`Vault::backup`: locked with the passphrase, checked to unlock with
/// it), before anything is written: a shell asks where only once the passphrase is right.
pub fn back_up_identity(
    store: &Store,
    passphrase: &openpgp::crypto::Password,
) -> Result<IdentityBackup, crate::vault::VaultError> {
    let (cert, armored) = crate::vault::Vault::of(store).backup(passphrase)?;
    Ok(IdentityBackup { cert, armored })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backup is the identity locked with its passphrase (no secret in the clear), refused with
    /// a wrong passphrase, never replaces a file unless asked, and restores into another data
    /// directory where a draft saved before reads again.
    #[test]
    fn a_backup_restores_the_identity_elsewhere() {
        let a = tempfile::tempdir().unwrap();
        let store = Store::at(a.path().join("data"));
        let pw: openpgp::crypto::Password = "correct horse battery staple".into();
        let (cert, _) = adopt_identity(
            &store,
            NewIdentity::Generate {
                userid: "Ada <ada@example.org>",
            },
            pw.clone(),
        )
        .unwrap();
        let vault = crate::vault::Vault::of(&store);
        let (id, _) = vault.save_draft(None, b"# IDOR in /orders").unwrap();
        let dest = a.path().join("identity-backup.asc");
        let wrong = back_up_identity(&store, &"not the one".into());
        assert!(
            matches!(wrong, Err(crate::vault::VaultError::Key(_))),
            "{wrong:?}"
        );
        let made = back_up_identity(&store, &pw).unwrap();
        assert_eq!(made.cert().fingerprint(), cert.fingerprint());
        made.write_to(&dest, false).unwrap();
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = made.write_to(&dest, false);
        assert!(
            matches!(&again, Err(crate::vault::VaultError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists),
            "{again:?}"
        );
        made.write_to(&dest, true).unwrap();
        let backup = crate::keys::read_secret_key(&dest).unwrap();
        assert_eq!(backup.fingerprint(), cert.fingerprint());
        assert!(backup.is_tsk());
        assert!(
            !backup
                .keys()
                .secret()
                .any(|k| k.key().has_unencrypted_secret()),
            "the backup is locked"
        );

        // Another machine: the data directory copied without the key, then the backup restored.
        let b = tempfile::tempdir().unwrap();
        let other = Store::at(b.path().join("data"));
        let drafts = vault.dir().join("drafts").join(&id);
        let copied = crate::vault::Vault::of(&other)
            .dir()
            .join("drafts")
            .join(&id);
        std::fs::create_dir_all(&copied).unwrap();
        for f in std::fs::read_dir(&drafts).unwrap().flatten() {
            std::fs::copy(f.path(), copied.join(f.file_name())).unwrap();
        }
        let (restored, _) =
            adopt_identity(&other, NewIdentity::Import(&backup), pw.clone()).unwrap();
        assert_eq!(restored.fingerprint(), cert.fingerprint());
        let mut ask = |_: &str| Some(pw.clone());
        let text = crate::vault::Vault::of(&other)
            .load_draft_text(&id, None, &mut ask)
            .unwrap();
        assert_eq!(text.as_str(), "# IDOR in /orders");
    }
}
