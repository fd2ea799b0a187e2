//! Opening files named by outside input, which may be anything a path can name, and writing
//! files whole or not at all.

use std::{
    fs::{File, OpenOptions},
    io,
    os::unix::fs::OpenOptionsExt,
    path::Path,
};

/// Opens `path` for reading if it is a regular file. A FIFO, a device (`/dev/zero`,
/// `/dev/urandom`) or a socket is refused: reading one may block before the first byte or never
/// end. The file is opened without blocking, so a FIFO with no writer cannot hang the open
/// itself; reads from a regular file ignore that flag.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed())
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Writes a file whole or not at all: a temp file in the same folder, renamed over `path`;
/// `synced` first syncs it (for files that nothing checks when read back).
pub fn write_atomic(path: &Path, data: &[u8], synced: bool) -> io::Result<()> {
    write_atomic_with(path, synced, |out| out.write_all(data))
}

/// [`write_atomic`] with what `write` puts into the temp file: a large document serialized
/// straight into the file, not into memory first.
pub fn write_atomic_with(
    path: &Path,
    synced: bool,
    write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
) -> io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    let mut out = io::BufWriter::new(temp.as_file_mut());
    write(&mut out)?;
    out.flush()?;
    drop(out);
    if synced {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|status| status.success()), "mkfifo");
        for path in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
            let error = open_regular(path).expect_err("refused");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{path:?}");
        }
        let regular = dir.path().join("file");
        std::fs::write(&regular, "x").expect("write");
        assert!(open_regular(&regular).is_ok());
    }
}
