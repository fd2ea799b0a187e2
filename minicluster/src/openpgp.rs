//! OpenPGP signing and verification of detached signatures, as pacman uses them.
//!
//! A repository signs each package and its sync database with a detached binary signature
//! (`X.sig` beside `X`). [`SigningKey`] makes such signatures, and [`Keyring`] checks them
//! against public certificates: a repository's key file or Arch's whole `archlinux.gpg`.
//!
//! Built on `sequoia-openpgp` under its [`StandardPolicy`]: weak hashes, expired or revoked keys
//! and keys without a valid binding are refused, as GnuPG refuses them. Trust (pacman-key's
//! `--lsign-key`, the Arch master keys' certifications) is not modelled here: a signature
//! verifies when any certificate in the keyring made it.
//!
//! Keys are generated and signatures made in the v4 format of RFC 4880, the one GnuPG 2.2 (and so
//! pacman's gpgme on Debian 12) reads; v6 keys would be unreadable there.

use std::{
    fs,
    io::{self, Read},
    path::{Path, PathBuf},
};

use sequoia_openpgp::{
    self as openpgp, Cert, KeyHandle, Profile,
    cert::{CertBuilder, CertParser, CipherSuite},
    crypto::KeyPair,
    parse::{
        Parse,
        stream::{
            DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationError,
            VerificationHelper,
        },
    },
    policy::StandardPolicy,
    serialize::{
        SerializeInto,
        stream::{Message, Signer},
    },
    types::HashAlgorithm,
};

/// The hash of the signatures we make: pacman's gpgme accepts SHA-256 and SHA-512.
const SIGNATURE_HASH: HashAlgorithm = HashAlgorithm::SHA512;

/// Why a key could not be loaded, or a signature made or verified.
#[derive(Debug, thiserror::Error)]
pub enum OpenPgpError {
    /// A key or keyring file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// Reading the data to sign or verify failed.
    #[error("reading the signed data: {source}")]
    ReadData {
        /// What went wrong.
        source: io::Error,
    },
    /// The bytes are not what they should be: not a key, not a certificate, not a signature.
    #[error("malformed OpenPGP data: {0}")]
    Malformed(String),
    /// The key holds no valid, signing-capable key with its secret part.
    #[error("no usable signing-capable secret key in the key")]
    NoSigningKey,
    /// The signing-capable secret key is protected by a password, which we do not take.
    #[error("the signing key {fingerprint} is password-protected; export it unencrypted")]
    EncryptedKey {
        /// Fingerprint of the certificate (upper-case hex).
        fingerprint: String,
    },
    /// No certificate in the keyring holds the key that made the signature.
    #[error("signed by a key not in the keyring (issuer {})", .issuers.join(", "))]
    UnknownSigner {
        /// The issuers the signature names: key IDs or fingerprints, upper-case hex.
        issuers: Vec<String>,
    },
    /// The key is known but the signature does not verify: the data or the signature changed.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The key is known but was not usable when it signed (expired, revoked, not bound, not
    /// signing-capable under the policy).
    #[error("key of {fingerprint} not usable for this signature: {reason}")]
    KeyNotUsable {
        /// Fingerprint of the certificate (upper-case hex).
        fingerprint: String,
        /// Why, as sequoia puts it.
        reason: String,
    },
    /// Any other failure inside the OpenPGP library.
    #[error("OpenPGP: {0}")]
    Sequoia(String),
}

impl OpenPgpError {
    /// A stable snake_case name for error records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Io { .. } | Self::ReadData { .. } => "io",
            Self::Malformed(_) => "malformed",
            Self::NoSigningKey => "no_signing_key",
            Self::EncryptedKey { .. } => "encrypted_key",
            Self::UnknownSigner { .. } => "unknown_signer",
            Self::BadSignature(_) => "bad_signature",
            Self::KeyNotUsable { .. } => "key_not_usable",
            Self::Sequoia(_) => "openpgp",
        }
    }

    /// Sequoia reports errors as `anyhow` chains; `{:#}` keeps the causes in the message.
    fn sequoia(error: &anyhow::Error) -> Self {
        Self::Sequoia(format!("{error:#}"))
    }

    fn malformed(error: &anyhow::Error) -> Self {
        Self::Malformed(format!("{error:#}"))
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, OpenPgpError> {
    fs::read(path).map_err(|source| OpenPgpError::Io {
        path: path.to_owned(),
        source,
    })
}

/// A secret key that signs (loaded from an unencrypted transferable secret key, armored or
/// binary, as `gpg --export-secret-keys KEYID` or `sq key generate` write it).
pub struct SigningKey {
    cert: Cert,
    keypair: KeyPair,
}

impl std::fmt::Debug for SigningKey {
    /// Names the certificate only: secret material stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads the key from a file (see [`SigningKey::from_bytes`]).
    pub fn from_file(path: &Path) -> Result<Self, OpenPgpError> {
        Self::from_bytes(&read_file(path)?)
    }

    /// Loads the key from one transferable secret key, armored or binary.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OpenPgpError> {
        let cert = Cert::from_bytes(bytes).map_err(|e| OpenPgpError::malformed(&e))?;
        Self::from_cert(cert)
    }

    /// A new key with a signing-capable (sub)key, for tests and first-time users.
    ///
    /// An Ed25519 primary key that only certifies, with an Ed25519 signing subkey; no expiry.
    pub fn generate(user_id: &str) -> Result<Self, OpenPgpError> {
        let (cert, _revocation) = CertBuilder::new()
            .set_profile(Profile::RFC4880)
            .and_then(|builder| {
                builder
                    .set_cipher_suite(CipherSuite::Cv25519)
                    .add_userid(user_id)
                    .add_signing_subkey()
                    .generate()
            })
            .map_err(|e| OpenPgpError::sequoia(&e))?;
        Self::from_cert(cert)
    }

    /// Picks the key that signs: valid now under the policy, signing-capable, with an
    /// unencrypted secret.
    fn from_cert(cert: Cert) -> Result<Self, OpenPgpError> {
        let policy = StandardPolicy::new();
        let valid = cert
            .with_policy(&policy, None)
            .map_err(|e| OpenPgpError::KeyNotUsable {
                fingerprint: cert.fingerprint().to_hex(),
                reason: format!("{e:#}"),
            })?;
        let signing = || {
            valid
                .keys()
                .supported()
                .alive()
                .revoked(false)
                .for_signing()
        };
        let Some(key) = signing().unencrypted_secret().next() else {
            return Err(if signing().secret().next().is_some() {
                OpenPgpError::EncryptedKey {
                    fingerprint: cert.fingerprint().to_hex(),
                }
            } else {
                OpenPgpError::NoSigningKey
            });
        };
        let keypair = key
            .key()
            .clone()
            .into_keypair()
            .map_err(|e| OpenPgpError::sequoia(&e))?;
        Ok(Self { cert, keypair })
    }

    /// Upper-case hex fingerprint of the certificate (what pacman-key --lsign-key takes).
    pub fn fingerprint(&self) -> String {
        self.cert.fingerprint().to_hex()
    }

    /// The secret key, ASCII-armored, to save (what from_file reads back).
    pub fn secret_armored(&self) -> Result<String, OpenPgpError> {
        armored_string(self.cert.as_tsk().armored().to_vec())
    }

    /// The public certificate, ASCII-armored (what `pacman-key --add` imports).
    pub fn public_armored(&self) -> Result<String, OpenPgpError> {
        armored_string(self.cert.armored().to_vec())
    }

    /// A detached binary signature over everything `data` yields, as `gpg --detach-sign` makes
    /// and pacman expects in `X.sig` files.
    pub fn sign_detached(&self, mut data: impl Read) -> Result<Vec<u8>, OpenPgpError> {
        let mut signature = Vec::new();
        let mut signer = Signer::new(Message::new(&mut signature), self.keypair.clone())
            .and_then(|signer| signer.hash_algo(SIGNATURE_HASH))
            .and_then(|signer| signer.detached().build())
            .map_err(|e| OpenPgpError::sequoia(&e))?;
        // Writing into the signer only hashes, so a failed copy is a failed read.
        io::copy(&mut data, &mut signer).map_err(|source| OpenPgpError::ReadData { source })?;
        signer.finalize().map_err(|e| OpenPgpError::sequoia(&e))?;
        Ok(signature)
    }
}

fn armored_string(armored: openpgp::Result<Vec<u8>>) -> Result<String, OpenPgpError> {
    let bytes = armored.map_err(|e| OpenPgpError::sequoia(&e))?;
    String::from_utf8(bytes).map_err(|e| OpenPgpError::Sequoia(format!("armor is not UTF-8: {e}")))
}

/// Public certificates to verify against.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    certs: Vec<Cert>,
    skipped: usize,
}

impl Keyring {
    /// Loads one or many certificates, armored or binary (a GnuPG keyring export, Arch's
    /// `archlinux.gpg`), from a file (see [`Keyring::from_bytes`]).
    pub fn from_file(path: &Path) -> Result<Self, OpenPgpError> {
        Self::from_bytes(&read_file(path)?)
    }

    /// Loads one or many certificates, armored or binary.
    ///
    /// A certificate that does not parse is skipped and counted in [`Keyring::skipped`], as GnuPG
    /// skips it on import; the input fails as [`OpenPgpError::Malformed`] only when nothing in it
    /// parses.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OpenPgpError> {
        let mut keyring = Self::default();
        let mut first_error = None;
        for cert in CertParser::from_bytes(bytes).map_err(|e| OpenPgpError::malformed(&e))? {
            match cert {
                Ok(cert) => keyring.certs.push(cert),
                Err(error) => {
                    keyring.skipped += 1;
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) if keyring.certs.is_empty() => Err(OpenPgpError::malformed(&error)),
            _ => Ok(keyring),
        }
    }

    /// How many certificates the keyring holds.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether the keyring holds no certificate.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// How many certificates in the input did not parse and were left out.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Verifies a detached signature (binary or armored) over `data`; returns the upper-case hex
    /// fingerprint of the certificate whose key made it.
    ///
    /// `data` is streamed, never held whole. It must be `Send + Sync` because sequoia's reader
    /// stack requires it; files, byte slices, `reqwest::blocking::Response` and the gzip and
    /// zstd decoders over them are. When the signature data holds several signatures, one good
    /// signature is enough; otherwise the error of the first signature by a known key is
    /// reported, or [`OpenPgpError::UnknownSigner`] when no key is known.
    pub fn verify_detached(
        &self,
        data: impl Read + Send + Sync,
        signature: &[u8],
    ) -> Result<String, OpenPgpError> {
        let policy = StandardPolicy::new();
        let helper = Helper {
            keyring: self,
            outcome: None,
        };
        let mut verifier = DetachedVerifierBuilder::from_bytes(signature)
            .and_then(|builder| builder.with_policy(&policy, None, helper))
            .map_err(|e| OpenPgpError::malformed(&e))?;
        let mut data = CaptureError {
            inner: data,
            error: None,
        };
        let verified = verifier.verify_reader(&mut data);
        if let Some(source) = data.error {
            return Err(OpenPgpError::ReadData { source });
        }
        match (verifier.into_helper().outcome, verified) {
            (Some(outcome), _) => outcome,
            (None, Err(error)) => Err(OpenPgpError::sequoia(&error)),
            (None, Ok(())) => Err(OpenPgpError::Malformed("no signature checked".into())),
        }
    }
}

/// Hands the keyring's certificates to the verifier and keeps its verdict as our error.
struct Helper<'k> {
    keyring: &'k Keyring,
    outcome: Option<Result<String, OpenPgpError>>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self
            .keyring
            .certs
            .iter()
            .filter(|cert| cert.keys().key_handles(ids).next().is_some())
            .cloned()
            .collect())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        let mut results = Vec::new();
        for layer in structure {
            if let MessageLayer::SignatureGroup { results: group } = layer {
                results.extend(group);
            }
        }
        self.outcome = Some(judge(results));
        Ok(())
    }
}

/// One good signature wins; else the first failure by a known key; else an unknown signer.
fn judge(results: Vec<openpgp::parse::stream::VerificationResult>) -> Result<String, OpenPgpError> {
    if results.is_empty() {
        return Err(OpenPgpError::Malformed(
            "no signature in the signature data".into(),
        ));
    }
    let mut issuers = Vec::new();
    let mut failure = None;
    for result in results {
        let error = match result {
            Ok(good) => return Ok(good.ka.cert().fingerprint().to_hex()),
            Err(VerificationError::MissingKey { sig }) => {
                for issuer in sig.get_issuers() {
                    let hex = issuer.to_hex();
                    if !issuers.contains(&hex) {
                        issuers.push(hex);
                    }
                }
                continue;
            }
            Err(VerificationError::BadSignature { error, .. }) => {
                OpenPgpError::BadSignature(format!("{error:#}"))
            }
            Err(VerificationError::BadKey { ka, error, .. }) => OpenPgpError::KeyNotUsable {
                fingerprint: ka.cert().fingerprint().to_hex(),
                reason: format!("{error:#}"),
            },
            Err(VerificationError::UnboundKey { cert, error, .. }) => OpenPgpError::KeyNotUsable {
                fingerprint: cert.fingerprint().to_hex(),
                reason: format!("{error:#}"),
            },
            Err(error @ VerificationError::MalformedSignature { .. })
            | Err(error @ VerificationError::UnknownSignature { .. }) => {
                OpenPgpError::Malformed(error.to_string())
            }
            Err(error) => OpenPgpError::Sequoia(error.to_string()),
        };
        failure.get_or_insert(error);
    }
    Err(failure.unwrap_or(OpenPgpError::UnknownSigner { issuers }))
}

/// Keeps the data reader's own error, which sequoia would otherwise fold into an `anyhow` chain.
struct CaptureError<R> {
    inner: R,
    error: Option<io::Error>,
}

impl<R: Read> Read for CaptureError<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|error| {
            let copy = io::Error::new(error.kind(), error.to_string());
            self.error.get_or_insert(error);
            copy
        })
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    const REALDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/realdata");

    fn key() -> SigningKey {
        SigningKey::generate("Test Packager <test@example.org>").expect("generate a key")
    }

    fn keyring_of(key: &SigningKey) -> Keyring {
        let public = key.public_armored().expect("armor the certificate");
        Keyring::from_bytes(public.as_bytes()).expect("read our own certificate")
    }

    #[test]
    fn sign_then_verify_names_the_key() {
        let key = key();
        let signature = key.sign_detached(&b"package bytes"[..]).expect("sign");
        let keyring = keyring_of(&key);
        assert_eq!(keyring.len(), 1);
        let signer = keyring.verify_detached(&b"package bytes"[..], &signature);
        assert_eq!(signer.expect("verifies"), key.fingerprint());
        assert_eq!(key.fingerprint().len(), 40);
        assert_eq!(key.fingerprint(), key.fingerprint().to_uppercase());
    }

    #[test]
    fn armored_signature_verifies_too() {
        let key = key();
        let signature = key.sign_detached(&b"data"[..]).expect("sign");
        let armored = openpgp::armor::Writer::new(Vec::new(), openpgp::armor::Kind::Signature)
            .and_then(|mut writer| {
                io::Write::write_all(&mut writer, &signature)?;
                writer.finalize()
            })
            .expect("armor the signature");
        let signer = keyring_of(&key).verify_detached(&b"data"[..], &armored);
        assert_eq!(signer.expect("verifies"), key.fingerprint());
    }

    #[test]
    fn changed_data_is_a_bad_signature() {
        let key = key();
        let signature = key.sign_detached(&b"package bytes"[..]).expect("sign");
        let error = keyring_of(&key)
            .verify_detached(&b"package bytez"[..], &signature)
            .expect_err("changed data must not verify");
        assert!(matches!(error, OpenPgpError::BadSignature(_)), "{error:?}");
        assert_eq!(error.kind(), "bad_signature");
    }

    #[test]
    fn another_keyring_is_an_unknown_signer() {
        let key = key();
        let signature = key.sign_detached(&b"data"[..]).expect("sign");
        let error = keyring_of(&self::key())
            .verify_detached(&b"data"[..], &signature)
            .expect_err("a stranger's keyring must not verify");
        let OpenPgpError::UnknownSigner { issuers } = &error else {
            panic!("expected UnknownSigner, got {error:?}");
        };
        assert!(!issuers.is_empty());
        assert_eq!(error.kind(), "unknown_signer");
    }

    #[test]
    fn garbage_signature_is_malformed() {
        let keyring = keyring_of(&key());
        for garbage in [&b"this is not a signature\n"[..], b"", &[0x88, 0x01, 0x00]] {
            let error = keyring
                .verify_detached(&b"data"[..], garbage)
                .expect_err("garbage must not verify");
            assert_eq!(error.kind(), "malformed", "{garbage:?}: {error:?}");
        }
    }

    #[test]
    fn a_certificate_is_not_a_signature() {
        let key = key();
        let public = key.public_armored().expect("armor");
        let error = keyring_of(&key)
            .verify_detached(&b"data"[..], public.as_bytes())
            .expect_err("a certificate is not a signature");
        assert_eq!(error.kind(), "malformed", "{error:?}");
    }

    #[test]
    fn failing_data_reader_is_an_io_error() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "peer went away",
                ))
            }
        }
        let key = key();
        let signature = key.sign_detached(&b"data"[..]).expect("sign");
        let error = keyring_of(&key)
            .verify_detached(Broken, &signature)
            .expect_err("a failed read must not verify");
        let OpenPgpError::ReadData { source } = &error else {
            panic!("expected ReadData, got {error:?}");
        };
        assert_eq!(source.kind(), io::ErrorKind::ConnectionReset);
        assert!(key.sign_detached(Broken).is_err());
    }

    #[test]
    fn secret_round_trips_and_public_does_not_sign() {
        let key = key();
        let secret = key.secret_armored().expect("armor the secret");
        assert!(secret.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));
        let again = SigningKey::from_bytes(secret.as_bytes()).expect("read the secret back");
        assert_eq!(again.fingerprint(), key.fingerprint());
        let signature = again.sign_detached(&b"data"[..]).expect("sign");
        let signer = keyring_of(&key).verify_detached(&b"data"[..], &signature);
        assert_eq!(signer.expect("verifies"), key.fingerprint());

        let public = key.public_armored().expect("armor");
        assert!(!public.contains("PRIVATE"));
        let error = SigningKey::from_bytes(public.as_bytes()).expect_err("no secret");
        assert_eq!(error.kind(), "no_signing_key");
        let error = SigningKey::from_bytes(b"nope").expect_err("not a key");
        assert_eq!(error.kind(), "malformed");
    }

    #[test]
    fn missing_file_is_an_io_error_with_its_path() {
        let path = Path::new("/nonexistent/key.asc");
        let error = Keyring::from_file(path).expect_err("no such file");
        assert!(matches!(&error, OpenPgpError::Io { path: p, .. } if p == path));
        assert_eq!(error.kind(), "io");
    }

    #[test]
    fn real_repository_signatures_verify() {
        let repo = Path::new(REALDATA).join("packages/steavenrepo");
        let keyring = Keyring::from_file(&repo.join("SteavenRepo.gpg")).expect("load the key");
        assert!(!keyring.is_empty());
        let dir = repo.join("x86_64");
        // SteavenLinux.db and .db.sig are symlinks in the repository, flattened to text (their target's
        // name) in the snapshot: the real files are the .tar.gz ones.
        let mut signed = vec![
            "SteavenLinux.db.tar.gz".to_owned(),
            "SteavenLinux.files.tar.gz".to_owned(),
        ];
        let mut packages: Vec<String> = fs::read_dir(&dir)
            .expect("list the repository")
            .map(|entry| entry.expect("read the listing").file_name())
            .filter_map(|name| name.to_str().map(str::to_owned))
            .filter(|name| {
                name.ends_with(".pkg.tar.zst") && dir.join(format!("{name}.sig")).exists()
            })
            .collect();
        packages.sort();
        assert!(
            packages.len() >= 2,
            "packages with signatures: {packages:?}"
        );
        signed.extend(packages);
        let mut fingerprints = Vec::new();
        for name in &signed {
            let signature = fs::read(dir.join(format!("{name}.sig"))).expect("read the signature");
            let data = fs::File::open(dir.join(name)).expect("open the signed file");
            match keyring.verify_detached(data, &signature) {
                Ok(fingerprint) => fingerprints.push(fingerprint),
                Err(error) => panic!("{name}: {error}"),
            }
        }
        fingerprints.dedup();
        assert_eq!(
            fingerprints.len(),
            1,
            "one key signs the repository: {fingerprints:?}"
        );
    }

    #[test]
    fn arch_keyring_loads() {
        let path = Path::new(REALDATA).join("keys/archlinux-keyring_debian-bookworm/archlinux.gpg");
        let keyring = Keyring::from_file(&path).expect("load archlinux.gpg");
        assert!(keyring.len() > 100, "{} certificates", keyring.len());
    }

    /// A throwaway GnuPG home; its agent, if gpg started one, is stopped on drop.
    struct Gpg(tempfile::TempDir);

    impl Gpg {
        fn new() -> Self {
            let version = Command::new("gpg").arg("--version").output();
            assert!(
                version.is_ok_and(|out| out.status.success()),
                "gpg is missing: install Debian's gnupg (as .ci/run does)"
            );
            Self(tempfile::tempdir().expect("temp GNUPGHOME"))
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.path().join(name)
        }

        /// Runs gpg in batch mode with status lines on stdout; fails the test if gpg fails.
        fn run(&self, args: &[&str]) -> (Vec<u8>, String) {
            let out = Command::new("gpg")
                .env("GNUPGHOME", self.0.path())
                .current_dir(self.0.path())
                .args(["--batch", "--no-tty", "--pinentry-mode", "loopback"])
                .args(["--passphrase", "", "--status-fd", "2"])
                .args(args)
                .output()
                .expect("run gpg");
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "gpg {args:?} failed:\n{stderr}");
            (out.stdout, stderr)
        }

        /// Imports `key`'s certificate, verifies `signature` over `data`, and checks that
        /// GnuPG names `key` as the signer.
        fn assert_verifies(&self, key: &SigningKey, data: &[u8], signature: &[u8]) {
            fs::write(self.path("key.asc"), key.public_armored().expect("armor")).expect("write");
            fs::write(self.path("file"), data).expect("write the data");
            fs::write(self.path("file.sig"), signature).expect("write the signature");
            self.run(&["--import", "key.asc"]);
            let (_, status) = self.run(&["--verify", "file.sig", "file"]);
            assert!(status.contains("[GNUPG:] GOODSIG "), "{status}");
            // VALIDSIG ends with the primary key's fingerprint.
            let validsig = status
                .lines()
                .find(|line| line.starts_with("[GNUPG:] VALIDSIG "));
            assert!(
                validsig.is_some_and(|line| line.ends_with(&key.fingerprint())),
                "{status}"
            );
        }
    }

    impl Drop for Gpg {
        fn drop(&mut self) {
            let _ = Command::new("gpgconf")
                .env("GNUPGHOME", self.0.path())
                .args(["--kill", "all"])
                .status();
        }
    }

    /// GnuPG, the verifier behind pacman's gpgme, accepts our key and signature.
    #[test]
    fn gnupg_verifies_our_signature() {
        let gpg = Gpg::new();
        let key = key();
        let data = b"a package, or a database";
        let signature = key.sign_detached(&data[..]).expect("sign");
        gpg.assert_verifies(&key, data, &signature);
    }

    /// A key GnuPG made and exported (binary, unprotected) signs, and GnuPG accepts the result.
    #[test]
    fn gnupg_exported_key_signs() {
        let gpg = Gpg::new();
        let user = "Gpg Packager <gpg@example.org>";
        gpg.run(&["--quick-gen-key", user, "rsa2048", "sign", "never"]);
        let (exported, _) = gpg.run(&["--export-secret-keys", user]);
        let key = SigningKey::from_bytes(&exported).expect("load gpg's export");
        let data = b"signed with a key from gpg";
        let signature = key.sign_detached(&data[..]).expect("sign");
        gpg.assert_verifies(&key, data, &signature);
    }

    #[test]
    fn password_protected_key_is_refused() {
        let (cert, _) = CertBuilder::new()
            .add_userid("Locked <locked@example.org>")
            .add_signing_subkey()
            .set_password(Some("secret".into()))
            .generate()
            .expect("generate a protected key");
        let tsk = cert.as_tsk().to_vec().expect("serialize");
        let error = SigningKey::from_bytes(&tsk).expect_err("a protected key must be refused");
        assert_eq!(error.kind(), "encrypted_key", "{error:?}");
    }
}
