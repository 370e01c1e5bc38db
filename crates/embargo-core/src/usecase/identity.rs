//! The researcher's identity: made or imported, and the records written before it encrypted to
//! it.

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
