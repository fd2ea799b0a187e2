//! The RPATH and RUNPATH of an ELF file, read from its dynamic section.
//!
//! Just enough ELF for that question, 32- and 64-bit, either byte order: the section headers,
//! the `SHT_DYNAMIC` section and the string table it links to. Anything malformed reads as
//! "no search path" rather than an error: a file that merely starts like ELF is not a defect.

const SHT_DYNAMIC: u64 = 6;
const DT_NULL: u64 = 0;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

/// Reads integers of the file's width and byte order.
struct Reader<'a> {
    data: &'a [u8],
    wide: bool,
    little: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.data.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    /// An unsigned integer of `N` bytes (2, 4 or 8) in the file's byte order.
    fn uint<const N: usize>(&self, at: usize) -> Option<u64> {
        let bytes = self.bytes::<N>(at)?;
        let mut wide = [0u8; 8];
        Some(if self.little {
            wide[..N].copy_from_slice(&bytes);
            u64::from_le_bytes(wide)
        } else {
            wide[8 - N..].copy_from_slice(&bytes);
            u64::from_be_bytes(wide)
        })
    }

    fn u16(&self, at: usize) -> Option<u64> {
        self.uint::<2>(at)
    }

    fn u32(&self, at: usize) -> Option<u64> {
        self.uint::<4>(at)
    }

    /// A word: 8 bytes in a 64-bit file, 4 in a 32-bit one.
    fn word(&self, at: usize) -> Option<u64> {
        if self.wide {
            self.uint::<8>(at)
        } else {
            self.u32(at)
        }
    }

    fn index(&self, at: usize) -> Option<usize> {
        usize::try_from(self.word(at)?).ok()
    }
}

/// Whether `data` starts like an ELF file.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// The directories of every DT_RPATH and DT_RUNPATH entry, in order.
pub fn search_paths(data: &[u8]) -> Vec<String> {
    read_search_paths(data).unwrap_or_default()
}

fn read_search_paths(data: &[u8]) -> Option<Vec<String>> {
    if !is_elf(data) {
        return None;
    }
    let r = Reader {
        data,
        wide: *data.get(4)? == 2,
        little: *data.get(5)? == 1,
    };
    let (shoff, shentsize, shnum) = if r.wide {
        (r.index(0x28)?, r.u16(0x3a)?, r.u16(0x3c)?)
    } else {
        (r.index(0x20)?, r.u16(0x2e)?, r.u16(0x30)?)
    };
    let shentsize = usize::try_from(shentsize).ok()?;
    // Section header fields: type at 4; offset, size and link after the flags and address.
    let section = |index: u64| -> Option<(u64, usize, usize, u64)> {
        let base = shoff.checked_add(usize::try_from(index).ok()?.checked_mul(shentsize)?)?;
        let kind = r.u32(base + 4)?;
        let (offset, size, link) = if r.wide {
            (
                r.index(base + 0x18)?,
                r.index(base + 0x20)?,
                r.u32(base + 0x28)?,
            )
        } else {
            (
                r.index(base + 0x10)?,
                r.index(base + 0x14)?,
                r.u32(base + 0x18)?,
            )
        };
        Some((kind, offset, size, link))
    };
    let mut paths = Vec::new();
    for index in 0..shnum {
        let Some((SHT_DYNAMIC, offset, size, link)) = section(index) else {
            continue;
        };
        let (_, strtab, strsize, _) = section(link)?;
        let strings = data.get(strtab..strtab.checked_add(strsize)?)?;
        let entry = if r.wide { 16 } else { 8 };
        for at in (offset..offset.checked_add(size)?).step_by(entry) {
            let (tag, value) = (r.word(at)?, r.index(at + entry / 2)?);
            match tag {
                DT_NULL => break,
                DT_RPATH | DT_RUNPATH => {
                    let text = strings.get(value..)?;
                    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                    let list = String::from_utf8_lossy(&text[..end]).into_owned();
                    paths.extend(list.split(':').map(str::to_owned));
                }
                _ => {}
            }
        }
    }
    Some(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal 64-bit little-endian ELF: a null section, a string table and a dynamic
    /// section holding one DT_RUNPATH.
    fn elf_with_runpath(runpath: &str) -> Vec<u8> {
        let mut strings = vec![0u8];
        strings.extend_from_slice(runpath.as_bytes());
        strings.push(0);
        let mut data = vec![0u8; 64];
        data[..4].copy_from_slice(b"\x7fELF");
        data[4] = 2;
        data[5] = 1;
        let strtab = data.len();
        data.extend_from_slice(&strings);
        let dynamic = data.len();
        for (tag, value) in [(DT_RUNPATH, 1u64), (DT_NULL, 0)] {
            data.extend_from_slice(&tag.to_le_bytes());
            data.extend_from_slice(&value.to_le_bytes());
        }
        let shoff = data.len();
        let section = |kind: u32, offset: usize, size: usize, link: u32| {
            let mut header = vec![0u8; 64];
            header[4..8].copy_from_slice(&kind.to_le_bytes());
            header[0x18..0x20].copy_from_slice(&(offset as u64).to_le_bytes());
            header[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            header[0x28..0x2c].copy_from_slice(&link.to_le_bytes());
            header
        };
        data.extend(section(0, 0, 0, 0));
        data.extend(section(3, strtab, strings.len(), 0));
        data.extend(section(6, dynamic, 32, 1));
        data[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        data[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        data[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        data
    }

    #[test]
    fn runpath_entries_are_read() {
        let elf = elf_with_runpath("$ORIGIN/../lib:/build/x/src/lib");
        assert_eq!(search_paths(&elf), ["$ORIGIN/../lib", "/build/x/src/lib"]);
    }

    #[test]
    fn truncated_or_foreign_data_has_no_paths() {
        let elf = elf_with_runpath("/tmp/lib");
        assert!(search_paths(&elf[..100]).is_empty());
        assert!(search_paths(b"#!/bin/sh\n").is_empty());
    }
}
