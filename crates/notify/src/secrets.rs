//! Secrets at rest: plugin secrets (API tokens, webhook and app secrets) are stored sealed with
//! the server key, XChaCha20-Poly1305, so a copy of the database alone reveals none of them.
//!
//! The key is `secrets.server_key` (64 hex digits or base64 of 32 bytes), or else the file
//! `<data dir>/server.key`, created with mode 0600 on the first start and reused after. A sealed
//! value is text, `v1.` followed by the URL-safe base64 (no padding) of a random 24-byte nonce
//! and the ciphertext with its tag; a wrong key or a changed byte fails to open, never panics.
//! The version prefix leaves room for a key rotation (a `v2.` naming its key).

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use errhound_config::{Config, Secret};
use errhound_domain::plugin::{SettingSpec, SettingValues};
use serde_json::Value;

/// The prefix of a value sealed with this version of the scheme.
const VERSION: &str = "v1.";
/// Associated data: binds a ciphertext to this use, so a value sealed for something else with
/// the same key does not open as a plugin secret.
const AAD: &[u8] = b"errhound plugin secret v1";
const NONCE_BYTES: usize = 24;
const KEY_BYTES: usize = 32;

/// Why a key could not be loaded or a value opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The configured or stored key is not 32 bytes of hex or base64.
    #[error("{source_name} is not a server key (32 bytes as 64 hex digits or base64)")]
    BadKey {
        /// Where the key came from (`secrets.server_key` or the file).
        source_name: String,
    },
    /// The key file could not be read or created.
    #[error("cannot {action} the server key file {path}: {error}")]
    KeyFile {
        /// `read` or `create`.
        action: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The text is not a sealed value of a known version.
    #[error("not a sealed value (expected text starting with {VERSION})")]
    Malformed,
    /// The value was sealed with another key, or changed since.
    #[error("the sealed value does not open with this server key (another key, or altered)")]
    WrongKeyOrTampered,
}

/// The key that seals and opens stored secrets. `Debug` never shows it.
#[derive(Clone)]
pub struct ServerKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(********)")
    }
}

impl ServerKey {
    /// The key of `config`: `secrets.server_key` when set, else `<data dir>/server.key`, which
    /// is created (0600) when it does not exist yet.
    pub fn load(config: &Config) -> Result<ServerKey, SecretError> {
        match &config.secrets.server_key {
            Some(key) => ServerKey::from_text(key.expose(), "secrets.server_key"),
            None => ServerKey::load_or_create(&config.server_key_path()),
        }
    }

    /// Parses a key given as 64 hex digits or as base64 of 32 bytes; `source_name` names it in
    /// the error.
    pub fn from_text(text: &str, source_name: &str) -> Result<ServerKey, SecretError> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_BYTES {
            hex::decode(text).ok()
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .ok()
        };
        match bytes {
            Some(bytes) if bytes.len() == KEY_BYTES => ServerKey::from_bytes(&bytes),
            _ => Err(SecretError::BadKey {
                source_name: source_name.to_owned(),
            }),
        }
    }

    fn from_bytes(bytes: &[u8]) -> Result<ServerKey, SecretError> {
        XChaCha20Poly1305::new_from_slice(bytes)
            .map(|cipher| ServerKey { cipher })
            .map_err(|_| SecretError::BadKey {
                source_name: "the key".to_owned(),
            })
    }

    /// A new random key (for tests and first starts).
    pub fn generate() -> ServerKey {
        let bytes: [u8; KEY_BYTES] = rand::random();
        ServerKey {
            cipher: XChaCha20Poly1305::new(&bytes.into()),
        }
    }

    /// Reads the key file at `path`, or creates it with a new random key (mode 0600). Two
    /// processes starting at once agree on one key: the file is written under a temporary name
    /// and linked into place only if no key file exists yet; the loser reads the winner's.
    pub fn load_or_create(path: &Path) -> Result<ServerKey, SecretError> {
        let source_name = path.display().to_string();
        let read_error = |error| SecretError::KeyFile {
            action: "read",
            path: source_name.clone(),
            error,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return ServerKey::from_text(&text, &source_name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(read_error(e)),
        }
        let create_error = |error| SecretError::KeyFile {
            action: "create",
            path: source_name.clone(),
            error,
        };
        let bytes: [u8; KEY_BYTES] = rand::random();
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir).map_err(create_error)?;
        let temporary = dir.join(format!(
            ".server.key.{}",
            hex::encode(rand::random::<[u8; 8]>())
        ));
        let written = write_private(&temporary, &format!("{}\n", hex::encode(bytes)));
        let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created the server key for stored secrets");
                ServerKey::from_bytes(&bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(read_error)?;
                ServerKey::from_text(&text, &source_name)
            }
            Err(e) => Err(create_error(e)),
        }
    }

    /// Seals `plain` as versioned text with a fresh random nonce (sealing one value twice gives
    /// two different texts).
    pub fn seal(&self, plain: &str) -> String {
        let nonce_bytes: [u8; NONCE_BYTES] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: AAD,
                },
            )
            // Encryption fails only for messages over 256 GiB; a setting is at most 8 KiB.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value [`ServerKey::seal`] made.
    pub fn open(&self, sealed: &str) -> Result<Secret, SecretError> {
        let encoded = sealed.strip_prefix(VERSION).ok_or(SecretError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| SecretError::Malformed)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| SecretError::Malformed)?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: AAD,
                },
            )
            .map_err(|_| SecretError::WrongKeyOrTampered)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SecretError::WrongKeyOrTampered)
    }

    /// `values` with every secret-kind setting of `specs` sealed (what the store keeps). Values
    /// already sealed (a secret the body left unchanged) are kept as they are.
    pub fn seal_settings(&self, specs: &[SettingSpec], values: &SettingValues) -> SettingValues {
        let mut sealed = values.clone();
        for spec in specs.iter().filter(|s| s.kind.is_secret()) {
            if let Some(Value::String(text)) = sealed.0.get_mut(&spec.key)
                && !is_sealed(text)
            {
                *text = self.seal(text);
            }
        }
        sealed
    }

    /// `values`, all in clear (as [`crate::Plugin::configure`] answers them), with every
    /// secret-kind setting of `specs` sealed, whatever its text looks like (a secret that
    /// happens to start with `v1.` is sealed too).
    pub fn seal_opened(&self, specs: &[SettingSpec], values: &SettingValues) -> SettingValues {
        let mut sealed = values.clone();
        for spec in specs.iter().filter(|s| s.kind.is_secret()) {
            if let Some(Value::String(text)) = sealed.0.get_mut(&spec.key) {
                *text = self.seal(text);
            }
        }
        sealed
    }

    /// `stored` with every secret-kind setting of `specs` opened (what a plugin is given).
    pub fn open_settings(
        &self,
        specs: &[SettingSpec],
        stored: &SettingValues,
    ) -> Result<SettingValues, SecretError> {
        let mut open = stored.clone();
        for spec in specs.iter().filter(|s| s.kind.is_secret()) {
            if let Some(Value::String(text)) = open.0.get_mut(&spec.key) {
                *text = self.open(text)?.expose().to_owned();
            }
        }
        Ok(open)
    }
}

/// Whether `text` looks like a sealed value.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(VERSION)
}

/// Writes `text` to a new file readable by its owner alone.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn keys_parse_from_hex_and_base64_and_nothing_else() {
        let hex_key = "00".repeat(32);
        let b64_key = STANDARD.encode([7u8; 32]);
        assert!(ServerKey::from_text(&hex_key, "k").is_ok());
        assert!(ServerKey::from_text(&b64_key, "k").is_ok());
        for bad in ["", "abc", &"00".repeat(31), &STANDARD.encode([7u8; 16])] {
            let err = ServerKey::from_text(bad, "secrets.server_key").unwrap_err();
            assert!(err.to_string().contains("secrets.server_key"), "{err}");
        }
        assert_eq!(
            format!("{:?}", ServerKey::generate()),
            "ServerKey(********)"
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let key = ServerKey::generate();
        for bad in ["", "v1.", "v1.!!!", "v2.AAAA", "hunter2", "v1.AAAA"] {
            assert!(key.open(bad).is_err(), "{bad}");
        }
    }
}
