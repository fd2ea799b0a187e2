//! The certificates signatures are checked against: keyring files, and keys fetched from a
//! keyserver for this run only.

use std::path::PathBuf;

use anyhow::Context;
use minicluster::{
    http::Http,
    openpgp::{Keyring, OpenPgpError},
};

/// Every keyring of a run.
#[derive(Default)]
pub struct Keys {
    keyrings: Vec<Keyring>,
}

impl Keys {
    /// Loads the keyring files.
    pub fn load(files: &[PathBuf]) -> anyhow::Result<Self> {
        let keyrings = files
            .iter()
            .map(|file| {
                Keyring::from_file(file).with_context(|| format!("keyring {}", file.display()))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { keyrings })
    }

    /// Verifies a detached signature of the file `data` with whichever keyring knows its
    /// signer; the signer's fingerprint, or why it does not verify.
    pub fn verify(&self, data: &std::path::Path, signature: &[u8]) -> Result<String, String> {
        self.verify_from(|| std::fs::File::open(data), signature)
    }

    /// Verifies a detached signature of `data` held in memory (a git tag or commit), as
    /// [`Keys::verify`] does.
    pub fn verify_bytes(&self, data: &[u8], signature: &[u8]) -> Result<String, String> {
        self.verify_from(|| Ok(data), signature)
    }

    /// Reads the data afresh for each keyring tried.
    fn verify_from<R: std::io::Read + Send + Sync>(
        &self,
        open: impl Fn() -> std::io::Result<R>,
        signature: &[u8],
    ) -> Result<String, String> {
        let mut last = "no keyring holds the signing key (--keyring, --keyserver)".to_owned();
        for keyring in &self.keyrings {
            let data = open().map_err(|e| e.to_string())?;
            match keyring.verify_detached(data, signature) {
                Ok(signer) => return Ok(signer),
                Err(error @ OpenPgpError::UnknownSigner { .. }) => last = error.to_string(),
                Err(error) => return Err(error.to_string()),
            }
        }
        Err(last)
    }

    /// Fetches each of `fingerprints` from an HKP keyserver; keys that fail to arrive are left
    /// out (the signature check then says whose key was missing).
    pub fn fetch_missing(&mut self, http: &Http, keyserver: &str, fingerprints: &[String]) {
        for fingerprint in fingerprints {
            let url = format!(
                "{}/pks/lookup?op=get&options=mr&search=0x{fingerprint}",
                keyserver.trim_end_matches('/')
            );
            let fetched = http.fetch(&[url], |body| {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::Read::take(body, 1 << 20), &mut bytes)?;
                Ok::<_, std::io::Error>(bytes)
            });
            if let Some(keyring) = fetched
                .ok()
                .and_then(|bytes| Keyring::from_bytes(&bytes).ok())
            {
                self.keyrings.push(keyring);
            }
        }
    }
}
