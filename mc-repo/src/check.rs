//! `mc-repo check`: does every entry's package file exist and match what the database says?

use std::fs::File;

use minicluster::{
    openpgp::Keyring,
    package::{self, Expectations},
    record::ErrorRecord,
};

use crate::{TOOL, repository::Repository};

/// Every problem of the repository, as error records; empty when all is well.
pub fn problems(repository: &Repository, keyring: Option<&Keyring>) -> Vec<ErrorRecord> {
    let mut problems = Vec::new();
    for entry in repository.entries.values() {
        let record = entry.record(&repository.name);
        let path = repository.path(&entry.filename);
        let problem =
            |kind: &str, message: String| ErrorRecord::new(TOOL, kind, message, record.subject());
        let expect = Expectations {
            sha256: record.sha256.clone(),
            csize: record.csize,
            ..Expectations::default()
        };
        match File::open(&path) {
            Err(error) => problems.push(problem(
                "missing_file",
                format!("{}: {error}", path.display()),
            )),
            Ok(file) => {
                if let Err(error) = package::read_package(file, &expect) {
                    problems.push(problem(
                        error.kind(),
                        format!("{}: {error}", path.display()),
                    ));
                }
            }
        }
        if let Some(keyring) = keyring {
            let signature = path.with_file_name(format!("{}.sig", entry.filename));
            if let Some(message) = verify(keyring, &path, &signature) {
                problems.push(problem("bad_signature", message));
            }
        }
    }
    if let Some(keyring) = keyring {
        for database in repository.database_files() {
            let signature = database.with_file_name(format!(
                "{}.sig",
                database.file_name().unwrap_or_default().to_string_lossy()
            ));
            if let Some(message) = verify(keyring, &database, &signature) {
                let subject = serde_json::json!({"repo": repository.name, "path": database});
                problems.push(ErrorRecord::new(TOOL, "bad_signature", message, subject));
            }
        }
    }
    problems
}

/// Why `signature` does not verify `file`, if it does not.
fn verify(
    keyring: &Keyring,
    file: &std::path::Path,
    signature: &std::path::Path,
) -> Option<String> {
    let signature_bytes = match std::fs::read(signature) {
        Ok(bytes) => bytes,
        Err(error) => return Some(format!("{}: {error}", signature.display())),
    };
    let data = match File::open(file) {
        Ok(data) => data,
        Err(error) => return Some(format!("{}: {error}", file.display())),
    };
    keyring
        .verify_detached(data, &signature_bytes)
        .err()
        .map(|error| format!("{}: {error}", signature.display()))
}
