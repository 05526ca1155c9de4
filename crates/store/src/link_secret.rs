//! The secret of a single-use link (a sign-up, a password reset, an invitation): 32 random bytes
//! in hex, mailed or shown once. Only its SHA-256 is stored, so a copy of the database holds no
//! working link.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new secret and the hash to store for it.
pub(crate) fn mint() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let hash = hash(&secret);
    (secret, hash)
}

/// What is stored for `secret` (and compared with a link's secret).
pub(crate) fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether two stored hashes are equal, in time that does not depend on where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |differ, (x, y)| differ | (x ^ y))
            == 0
}
