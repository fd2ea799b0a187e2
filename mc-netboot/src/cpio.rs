//! cpio archives in the "newc" format, the one the kernel unpacks as an initramfs: enough to
//! append files to an existing initramfs (archives may follow each other, compressed or not).

/// A file or folder to put into the archive.
pub struct Entry<'a> {
    /// Its path inside the archive, without a leading `/`.
    pub path: &'a str,
    /// Permission bits (`0o755`).
    pub mode: u32,
    /// Its content; `None` for a folder.
    pub data: Option<&'a [u8]>,
}

const REGULAR: u32 = 0o100_000;
const DIRECTORY: u32 = 0o040_000;

/// An archive of `entries`, with the trailer, padded to a multiple of 4 bytes.
pub fn archive(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (inode, entry) in (1..).zip(entries) {
        let (kind, data) = match entry.data {
            Some(data) => (REGULAR, data),
            None => (DIRECTORY, &[][..]),
        };
        header(&mut out, inode, kind | entry.mode, entry.path, data.len());
        out.extend_from_slice(data);
        pad(&mut out);
    }
    header(&mut out, 0, 0, "TRAILER!!!", 0);
    out
}

fn header(out: &mut Vec<u8>, inode: u32, mode: u32, name: &str, size: usize) {
    let nlink = if mode & DIRECTORY != 0 { 2 } else { 1 };
    let fields = [
        inode,
        mode,
        0,
        0,
        nlink,
        0,
        u32::try_from(size).expect("initramfs members are under 4 GiB"),
        0,
        0,
        0,
        0,
        u32::try_from(name.len() + 1).expect("short names"),
        0,
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad(out);
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_cpio_lists_and_extracts_the_archive() {
        let dir = tempfile::tempdir().expect("temp dir");
        let bytes = archive(&[
            Entry {
                path: "mc",
                mode: 0o755,
                data: None,
            },
            Entry {
                path: "mc/hello",
                mode: 0o644,
                data: Some(b"hello\n"),
            },
            Entry {
                path: "init",
                mode: 0o755,
                data: Some(b"#!/bin/sh\n"),
            },
        ]);
        assert_eq!(bytes.len() % 4, 0);
        let path = dir.path().join("a.cpio");
        std::fs::write(&path, &bytes).expect("writes");
        // busybox's cpio, the real peer: the same format reader as in an initramfs tool chain.
        let out = std::process::Command::new("busybox")
            .args(["cpio", "-idm", "-F"])
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .expect("busybox runs");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            std::fs::read(dir.path().join("mc/hello")).expect("extracted"),
            b"hello\n"
        );
        assert_eq!(
            std::fs::read(dir.path().join("init")).expect("extracted"),
            b"#!/bin/sh\n"
        );
    }
}
