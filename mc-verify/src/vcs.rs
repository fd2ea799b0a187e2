//! Git sources, fetched as makepkg fetches them and judged without checking anything out.
//!
//! Each git source is kept as a bare mirror in the source cache, `CACHE/BASE/NAME`, as makepkg
//! keeps it in `SRCDEST/NAME`: `git clone --mirror` the first time, `git fetch --prune` after.
//! The revision the fragment names (`#commit=`, `#tag=`, `#branch=`, else `HEAD`) is resolved in
//! the mirror; with `?signed`, the OpenPGP signature of the tag object (`#tag=`) or of the commit
//! is verified here, with the run's keys, over the very bytes git hashed. Nothing is checked
//! out, so nothing in the repository can run, and git runs with hooks off and never prompts.

use std::path::Path;

use alpm_types::url::{GitFragment, VcsInfo};
use minicluster::record::{Severity, SourceRecord, Verdict};
use rustix::fs::FileType;

use crate::{
    cache::BaseDir,
    plan::{Plan, PlannedSource},
    verify::{Fetcher, Note, Outcome},
};

/// What fetching sources needs on top of [`minicluster::git`]'s safe settings: file URLs are
/// refused (a PKGBUILD must not read the builder's own repositories), and a stalled transfer ends.
const SOURCE_CONFIG: &[&str] = &["protocol.file.allow=never", "http.lowSpeedTime=30"];

/// Suffixes of package bases that build the newest upstream revision on purpose.
const VCS_PACKAGE_SUFFIXES: &[&str] = &["-git", "-hg", "-svn", "-bzr", "-fossil"];

/// Lines that open a signature in a tag object, as git recognises them: OpenPGP first.
const SIGNATURE_MARKERS: &[&str] = &[
    "-----BEGIN PGP SIGNATURE-----",
    "-----BEGIN PGP MESSAGE-----",
    "-----BEGIN SSH SIGNATURE-----",
    "-----BEGIN SIGNED MESSAGE-----",
];

/// What the plan alone says about a git source fetched over `scheme`: findings, and whether
/// to mirror it (`false`: it is not fetched, `Err`: it is refused).
fn before_mirror(
    base: &str,
    scheme: &str,
    fragment: Option<&GitFragment>,
    signed: bool,
) -> (Vec<Note>, Result<bool, ()>) {
    if scheme == "file" {
        let message = "a file:// URL reads the builder's own repositories".to_owned();
        return (
            vec![Note::new("hostile-source", Severity::Error, message)],
            Err(()),
        );
    }
    if !matches!(scheme, "https" | "http" | "git") {
        let message = format!("git over {scheme} is not fetched; it was not checked");
        return (
            vec![Note::new(
                "unsupported-protocol",
                Severity::Warning,
                message,
            )],
            Ok(false),
        );
    }
    let mut notes = Vec::new();
    if let Some(reason) = floating(fragment) {
        let note = if VCS_PACKAGE_SUFFIXES.iter().any(|s| base.ends_with(s)) {
            Note::new(
                "vcs-floating-ref",
                Severity::Info,
                format!("{reason}: expected of a VCS package"),
            )
        } else {
            let message = format!(
                "{reason}: the source changes whenever upstream pushes; pin a commit or a \
                 signed tag"
            );
            Note::new("vcs-floating-ref", Severity::Warning, message)
        };
        notes.push(note);
    }
    let pinned = matches!(fragment, Some(GitFragment::Commit(id)) if is_full_commit(id));
    if matches!(scheme, "http" | "git") && !pinned && !signed {
        let message = format!(
            "fetched over {scheme}:// without a signature or a full commit id: anyone on the \
             path can change it"
        );
        notes.push(Note::new("insecure-unsigned", Severity::Warning, message));
    }
    (notes, Ok(true))
}

/// What a fragment asks for, in words.
fn wanted(fragment: Option<&GitFragment>) -> String {
    match fragment {
        None => "HEAD".to_owned(),
        Some(GitFragment::Branch(name)) => format!("branch {name}"),
        Some(GitFragment::Tag(name)) => format!("tag {name}"),
        Some(GitFragment::Commit(id)) => format!("commit {id}"),
    }
}

/// A finding when `#tag=NAME` resolved to a tag object that calls itself something else.
fn forged_tag(fragment: Option<&GitFragment>, tag: Option<&[u8]>) -> Option<Note> {
    let (Some(GitFragment::Tag(name)), Some(object)) = (fragment, tag) else {
        return None;
    };
    let named = tag_name(object).filter(|named| named != name)?;
    let message = format!("tag {name} is a tag object named {named}: the tag has been forged");
    Some(Note::new("vcs-tag-forged", Severity::Error, message))
}

impl Fetcher<'_> {
    /// Mirrors a git source into `cache`, resolves the revision it names and, with `?signed`,
    /// checks its signature; fills in `record` (the resolved commit goes into `checksums` as
    /// `commit`).
    pub(crate) fn check_git(
        &self,
        plan: &Plan,
        source: &PlannedSource,
        cache: &BaseDir,
        record: &mut SourceRecord,
        outcome: &mut Outcome,
    ) {
        let Some(VcsInfo::Git { fragment, signed }) = &source.vcs else {
            return;
        };
        let (base, fragment, signed) = (plan.base.as_str(), fragment.as_ref(), *signed);
        let scheme = url::Url::parse(&source.location)
            .map(|url| url.scheme().to_owned())
            .unwrap_or_default();
        let (notes, go) = before_mirror(base, &scheme, fragment, signed);
        for note in notes {
            outcome.note(base, source, note);
        }
        match go {
            Err(()) => {
                record.verdict = Verdict::Unreachable;
                return;
            }
            Ok(false) => return,
            Ok(true) => {}
        }
        let dir = cache.path_of(&source.file);
        let resolved = mirror(cache, &source.file, &source.location)
            .map_err(|message| Note::new("source-unreachable", Severity::Error, message))
            .and_then(|()| {
                record.path = Some(dir.display().to_string());
                resolve(&dir, fragment).map_err(|_| {
                    let message = format!("{} is not in {}", wanted(fragment), source.location);
                    Note::new("vcs-ref-missing", Severity::Error, message)
                })
            });
        let (commit, tag) = match resolved {
            Ok(resolved) => resolved,
            Err(note) => {
                outcome.note(base, source, note);
                record.verdict = Verdict::Unreachable;
                return;
            }
        };
        record.checksums.insert("commit".to_owned(), commit.clone());
        if let Some(note) = forged_tag(fragment, tag.as_deref()) {
            outcome.note(base, source, note);
            record.verdict = Verdict::Mismatch;
            return;
        }
        record.verdict = Verdict::Ok;
        if signed {
            let verified = signed_parts(&dir, fragment, &commit, tag.as_deref())
                .and_then(|(payload, signature)| self.keys.verify_bytes(&payload, &signature));
            let (verdict, signer) = outcome.signature(plan, &source.file, verified);
            record.verdict = verdict;
            record.signer = signer;
        }
    }
}

/// Why the revision a fragment names can change under the same PKGBUILD, if it can.
fn floating(fragment: Option<&GitFragment>) -> Option<String> {
    match fragment {
        None => Some("no #commit= or #tag=, so the default branch is built".to_owned()),
        Some(GitFragment::Branch(branch)) => Some(format!("#branch={branch} is built")),
        Some(GitFragment::Commit(id)) if !is_full_commit(id) => Some(format!(
            "#commit={id} is not a full commit id, so another commit can be made to match it"
        )),
        Some(_) => None,
    }
}

/// Whether `id` is a whole SHA-1 or SHA-256 object id, not a prefix or a ref name.
fn is_full_commit(id: &str) -> bool {
    matches!(id.len(), 40 | 64) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Clones `url` as a bare mirror to `name` in `cache`, or brings the mirror there up to date
/// (following the URL the PKGBUILD now gives). A first clone goes to a temporary folder in the
/// cache and is renamed into place, so an interrupted one leaves nothing behind; an entry that
/// is not a folder (a planted link) is refused, not followed.
fn mirror(cache: &BaseDir, name: &str, url: &str) -> Result<(), String> {
    let dir = cache.path_of(name);
    let shown = |e: std::io::Error| format!("{}: {e}", dir.display());
    match cache.kind(name).map_err(shown)? {
        Some(FileType::Directory) => {
            let bare = git(Some(&dir), &["rev-parse", "--is-bare-repository"]);
            if !bare.is_ok_and(|out| out.trim_ascii() == b"true") {
                return Err(format!("{} exists and is not a git mirror", dir.display()));
            }
            git(Some(&dir), &["config", "--", "remote.origin.url", url])?;
            return git(Some(&dir), &["fetch", "--quiet", "--prune", "origin"]).map(drop);
        }
        Some(_) => return Err(format!("{} exists and is not a git mirror", dir.display())),
        None => {}
    }
    let temp = cache.temp_dir(name).map_err(shown)?;
    let into = temp.path().join("mirror");
    let into_text = into.display().to_string();
    git(
        None,
        &["clone", "--mirror", "--quiet", "--", url, &into_text],
    )?;
    let inside = Path::new(temp.path().file_name().unwrap_or_default()).join("mirror");
    cache.rename(&inside, name).map_err(shown)
}

/// The commit `fragment` names in the mirror `dir`, and for `#tag=` the tag object if the tag is
/// annotated; or what git said when it is not there.
fn resolve(
    dir: &Path,
    fragment: Option<&GitFragment>,
) -> Result<(String, Option<Vec<u8>>), String> {
    let name = match fragment {
        None => "HEAD".to_owned(),
        Some(GitFragment::Branch(branch)) => format!("refs/heads/{branch}"),
        Some(GitFragment::Tag(tag)) => format!("refs/tags/{tag}"),
        Some(GitFragment::Commit(id)) => id.clone(),
    };
    let rev_parse = |spec: &str| {
        git(
            Some(dir),
            &["rev-parse", "--verify", "--end-of-options", spec],
        )
        .map(|id| String::from_utf8_lossy(&id).trim().to_owned())
    };
    let commit = rev_parse(&format!("{name}^{{commit}}"))?;
    let mut tag = None;
    if matches!(fragment, Some(GitFragment::Tag(_))) {
        let object = rev_parse(&name)?;
        if git(Some(dir), &["cat-file", "-t", &object])?.trim_ascii() == b"tag" {
            tag = Some(git(Some(dir), &["cat-file", "tag", &object])?);
        }
    }
    Ok((commit, tag))
}

/// What `?signed` verifies: for `#tag=` the tag object, otherwise the commit, split into the
/// signed payload and the armored OpenPGP signature.
fn signed_parts(
    dir: &Path,
    fragment: Option<&GitFragment>,
    commit: &str,
    tag: Option<&[u8]>,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (payload, signature) = if let Some(GitFragment::Tag(name)) = fragment {
        let tag =
            tag.ok_or_else(|| format!("tag {name} is lightweight: it carries no signature"))?;
        let (payload, signature) =
            split_tag(tag).ok_or_else(|| format!("tag {name} is not signed"))?;
        (payload.to_vec(), signature.to_vec())
    } else {
        let object = git(Some(dir), &["cat-file", "commit", commit])?;
        split_commit(&object).ok_or_else(|| format!("commit {commit} is not signed"))?
    };
    if !signature.starts_with(b"-----BEGIN PGP ") {
        return Err("signed with an SSH or X.509 key, not with OpenPGP".to_owned());
    }
    Ok((payload, signature))
}

/// A tag object's payload and signature: git signs everything up to the last line that opens a
/// signature.
fn split_tag(object: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut start = None;
    let mut offset = 0;
    for line in object.split_inclusive(|&b| b == b'\n') {
        if SIGNATURE_MARKERS
            .iter()
            .any(|marker| line.starts_with(marker.as_bytes()))
        {
            start = Some(offset);
        }
        offset += line.len();
    }
    start.map(|start| object.split_at(start))
}

/// A commit object's payload and signature, split as git splits them: the `gpgsig` header
/// (continued on lines starting with a space) is the signature, and the payload is the object
/// without it or any other `gpgsig*` header.
fn split_commit(object: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (mut payload, mut signature) = (Vec::new(), Vec::new());
    let (mut in_signature, mut other_signature) = (false, false);
    let mut rest = object;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |at| at + 1);
        let (line, next) = rest.split_at(end);
        let part = if in_signature && line.starts_with(b" ") {
            Some(&line[1..])
        } else if let Some(value) = line.strip_prefix(b"gpgsig ") {
            other_signature = false;
            Some(value)
        } else {
            if line.starts_with(b"gpgsig") {
                other_signature = true;
            } else if other_signature && !line.starts_with(b" ") {
                other_signature = false;
            }
            None
        };
        match part {
            Some(part) => {
                signature.extend_from_slice(part);
                in_signature = true;
            }
            // The headers end at the first empty line; the message is signed as it is.
            None if line.starts_with(b"\n") => {
                payload.extend_from_slice(rest);
                break;
            }
            None => {
                if !other_signature {
                    payload.extend_from_slice(line);
                }
                in_signature = false;
            }
        }
        rest = next;
    }
    (!signature.is_empty()).then_some((payload, signature))
}

/// The name a tag object gives itself, in its `tag` header.
fn tag_name(object: &[u8]) -> Option<&str> {
    object
        .split(|&b| b == b'\n')
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix(b"tag "))
        .and_then(|name| std::str::from_utf8(name).ok())
}

/// Runs `git ARGS`, on the bare repository `dir` if one; its stdout, or what git said.
fn git(dir: Option<&Path>, args: &[&str]) -> Result<Vec<u8>, String> {
    let location: Vec<&std::ffi::OsStr> = match dir {
        Some(dir) => vec!["--git-dir".as_ref(), dir.as_os_str()],
        None => Vec::new(),
    };
    minicluster::git::run(SOURCE_CONFIG, &location, args).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &str =
        "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAAB\n=abcd\n-----END PGP SIGNATURE-----\n";

    #[test]
    fn a_tag_is_signed_up_to_its_last_signature_line() {
        let payload = "object 0123\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nv1\n";
        let object = format!("{payload}{SIGNATURE}");
        let (signed, signature) = split_tag(object.as_bytes()).expect("signed");
        assert_eq!(signed, payload.as_bytes());
        assert_eq!(signature, SIGNATURE.as_bytes());
        assert_eq!(tag_name(object.as_bytes()), Some("v1"));
        assert_eq!(split_tag(payload.as_bytes()), None);
    }

    #[test]
    fn a_commit_is_signed_without_its_gpgsig_headers() {
        let continued: String = SIGNATURE
            .lines()
            .enumerate()
            .map(|(index, line)| {
                let lead = if index == 0 { "gpgsig " } else { " " };
                format!("{lead}{line}\n")
            })
            .collect();
        let object = format!(
            "tree 01\nparent 02\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n{continued}\
             gpgsig-sha256 other\n more\nmergetag object 03\n\nmessage\n gpgsig in the body\n"
        );
        let (payload, signature) = split_commit(object.as_bytes()).expect("signed");
        assert_eq!(
            String::from_utf8_lossy(&payload),
            "tree 01\nparent 02\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\
             mergetag object 03\n\nmessage\n gpgsig in the body\n"
        );
        assert_eq!(signature, SIGNATURE.as_bytes());
        assert_eq!(split_commit(b"tree 01\n\ngpgsig not a header\n"), None);
    }

    #[test]
    fn only_full_commit_ids_and_tags_are_pinned() {
        let commit = |id: &str| GitFragment::Commit(id.to_owned());
        assert_eq!(floating(Some(&commit(&"a".repeat(40)))), None);
        assert_eq!(floating(Some(&GitFragment::Tag("v1".into()))), None);
        assert!(floating(Some(&commit("abc1234"))).is_some());
        assert!(floating(Some(&commit(&"g".repeat(40)))).is_some());
        assert!(floating(Some(&GitFragment::Branch("main".into()))).is_some());
        assert!(floating(None).is_some());
    }
}
