//! The platform check of a downloaded artifact: an ELF binary must be built for the os/arch
//! the index lists it under.
//!
//! The signature covers what the index *says* (this file is for linux/amd64), not what the
//! publisher actually uploaded: a build job that copied the arm64 binary under the amd64 name
//! signs a perfectly valid index. Installed, such a binary fails only at the restart (`Exec
//! format error`), after the old one was swapped out on every host of the batch. So right after
//! download and verification, before any host is touched, the ELF header's class (32/64-bit),
//! byte order and machine are compared with what the listed os/arch needs.
//!
//! Only ELF is checked. An artifact that is not ELF (a shell script, like the quick start's
//! demoapp) is accepted as is; so is an ELF listed for an arch fleetup does not know. An ELF
//! listed for an os that does not run ELF binaries (darwin, windows, …) is refused.

use std::path::Path;

use super::{ReleaseError, Result};

/// Bytes of the header needed: `e_ident` (16), `e_type` (2), `e_machine` (2).
pub const HEADER_BYTES: usize = 20;

const MAGIC: &[u8; 4] = b"\x7fELF";
const CLASS_32: u8 = 1;
const CLASS_64: u8 = 2;
const DATA_LSB: u8 = 1;
const DATA_MSB: u8 = 2;

/// What an ELF header says about the platform: class, byte order, machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfPlatform {
    /// `EI_CLASS`: 1 (32-bit) or 2 (64-bit).
    pub class: u8,
    /// `EI_DATA`: 1 (little-endian) or 2 (big-endian).
    pub data: u8,
    /// `e_machine`.
    pub machine: u16,
}

impl std::fmt::Display for ElfPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match machine_name(self.machine) {
            Some(name) => write!(f, "{name}")?,
            None => write!(f, "machine {}", self.machine)?,
        }
        let bits = if self.class == CLASS_64 { 64 } else { 32 };
        let order = if self.data == DATA_MSB {
            "big"
        } else {
            "little"
        };
        write!(f, " ({bits}-bit, {order}-endian)")
    }
}

/// What a Go `GOARCH` runs, as an ELF header says it: `None` for an arch not known here
/// (nothing is checked then).
fn expected_for_arch(arch: &str) -> Option<Expected> {
    let elf = |class, data, machine| {
        Expected::Elf(ElfPlatform {
            class,
            data,
            machine,
        })
    };
    Some(match arch {
        "386" => elf(CLASS_32, DATA_LSB, 3),
        "amd64" => elf(CLASS_64, DATA_LSB, 62),
        "arm" => elf(CLASS_32, DATA_LSB, 40),
        "arm64" => elf(CLASS_64, DATA_LSB, 183),
        "loong64" => elf(CLASS_64, DATA_LSB, 258),
        "mips" => elf(CLASS_32, DATA_MSB, 8),
        "mipsle" => elf(CLASS_32, DATA_LSB, 8),
        "mips64" => elf(CLASS_64, DATA_MSB, 8),
        "mips64le" => elf(CLASS_64, DATA_LSB, 8),
        "ppc64" => elf(CLASS_64, DATA_MSB, 21),
        "ppc64le" => elf(CLASS_64, DATA_LSB, 21),
        "riscv64" => elf(CLASS_64, DATA_LSB, 243),
        "s390x" => elf(CLASS_64, DATA_MSB, 22),
        "sparc64" => elf(CLASS_64, DATA_MSB, 43),
        "wasm" => Expected::NotElf("WebAssembly"),
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Expected {
    Elf(ElfPlatform),
    /// The arch has no ELF binaries; the text says what it runs instead.
    NotElf(&'static str),
}

/// Whether a Go `GOOS` runs ELF binaries; `None` for an os not known here.
fn os_runs_elf(os: &str) -> Option<bool> {
    match os {
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "solaris"
        | "illumos" | "hurd" => Some(true),
        "darwin" | "ios" | "windows" | "js" | "wasip1" | "plan9" | "aix" => Some(false),
        _ => None,
    }
}

fn machine_name(machine: u16) -> Option<&'static str> {
    Some(match machine {
        3 => "x86 (i386)",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "IBM S/390",
        40 => "ARM",
        43 => "SPARC V9",
        62 => "x86-64",
        183 => "AArch64",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => return None,
    })
}

/// Checks the first bytes of an artifact (at least [`HEADER_BYTES`] of them when the file is
/// that long) against the os/arch it is listed for. `Ok` for anything that is not ELF, and for
/// an ELF listed for an arch not known here. `Err` says what the file is and what was needed.
pub fn check_header(head: &[u8], os: &str, arch: &str) -> Result<(), String> {
    if !head.starts_with(MAGIC) {
        return Ok(());
    }
    if head.len() < HEADER_BYTES {
        return Err(format!(
            "starts like an ELF binary but is only {} bytes long: not a complete ELF header",
            head.len()
        ));
    }
    let (class, data) = (head[4], head[5]);
    if !matches!(class, CLASS_32 | CLASS_64) || !matches!(data, DATA_LSB | DATA_MSB) {
        return Err(format!(
            "an ELF header with an invalid class ({class}) or byte order ({data}): not a binary any system runs"
        ));
    }
    let machine_bytes = [head[18], head[19]];
    let machine = if data == DATA_LSB {
        u16::from_le_bytes(machine_bytes)
    } else {
        u16::from_be_bytes(machine_bytes)
    };
    let found = ElfPlatform {
        class,
        data,
        machine,
    };
    if os_runs_elf(os) == Some(false) {
        return Err(format!(
            "it is an ELF binary for {found}, but it is listed for {os}/{arch}, and {os} does not run ELF binaries"
        ));
    }
    match expected_for_arch(arch) {
        None => Ok(()),
        Some(Expected::NotElf(what)) => Err(format!(
            "it is an ELF binary for {found}, but it is listed for {os}/{arch}, which needs {what}"
        )),
        Some(Expected::Elf(needed)) if needed == found => Ok(()),
        Some(Expected::Elf(needed)) => Err(format!(
            "it is an ELF binary for {found}, but it is listed for {os}/{arch}, which needs {needed}"
        )),
    }
}

/// [`check_header`] on the file at `path`; `what` (the artifact's URL) leads the error.
pub async fn check_file(path: &Path, what: &str, os: &str, arch: &str) -> Result<()> {
    use tokio::io::AsyncReadExt;
    let io = |e: std::io::Error| ReleaseError::Io {
        what: path.display().to_string(),
        source: e,
    };
    let file = tokio::fs::File::open(path).await.map_err(io)?;
    let mut head = Vec::with_capacity(HEADER_BYTES);
    file.take(HEADER_BYTES as u64)
        .read_to_end(&mut head)
        .await
        .map_err(io)?;
    check_header(&head, os, arch).map_err(|reason| ReleaseError::Artifact {
        what: what.to_owned(),
        reason: format!("wrong binary for {os}/{arch}: {reason}; it is not installed anywhere"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20-byte ELF header: class, byte order, machine (written in that byte order).
    fn header(class: u8, data: u8, machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_BYTES];
        h[..4].copy_from_slice(MAGIC);
        h[4] = class;
        h[5] = data;
        h[6] = 1; // EI_VERSION
        h[16] = 2; // ET_EXEC
        let m = if data == DATA_MSB {
            machine.to_be_bytes()
        } else {
            machine.to_le_bytes()
        };
        h[18..20].copy_from_slice(&m);
        h
    }

    #[test]
    fn each_known_arch_accepts_its_own_header_and_refuses_the_others() {
        let table = [
            ("386", CLASS_32, DATA_LSB, 3),
            ("amd64", CLASS_64, DATA_LSB, 62),
            ("arm", CLASS_32, DATA_LSB, 40),
            ("arm64", CLASS_64, DATA_LSB, 183),
            ("loong64", CLASS_64, DATA_LSB, 258),
            ("mips", CLASS_32, DATA_MSB, 8),
            ("mipsle", CLASS_32, DATA_LSB, 8),
            ("mips64", CLASS_64, DATA_MSB, 8),
            ("mips64le", CLASS_64, DATA_LSB, 8),
            ("ppc64", CLASS_64, DATA_MSB, 21),
            ("ppc64le", CLASS_64, DATA_LSB, 21),
            ("riscv64", CLASS_64, DATA_LSB, 243),
            ("s390x", CLASS_64, DATA_MSB, 22),
        ];
        for (arch, class, data, machine) in table {
            let own = header(class, data, machine);
            assert_eq!(check_header(&own, "linux", arch), Ok(()), "{arch}");
            for (other, oc, od, om) in table {
                if other == arch {
                    continue;
                }
                let e = check_header(&header(oc, od, om), "linux", arch)
                    .expect_err(&format!("{other}'s binary listed as {arch}"));
                assert!(e.contains(&format!("listed for linux/{arch}")), "{e}");
            }
        }
    }

    #[test]
    fn the_error_says_what_the_file_is_and_what_was_needed() {
        let e = check_header(&header(CLASS_64, DATA_LSB, 183), "linux", "amd64").unwrap_err();
        assert_eq!(
            e,
            "it is an ELF binary for AArch64 (64-bit, little-endian), but it is listed for linux/amd64, which needs x86-64 (64-bit, little-endian)"
        );
        let e = check_header(&header(CLASS_32, DATA_MSB, 9999), "linux", "arm64").unwrap_err();
        assert!(
            e.contains("machine 9999 (32-bit, big-endian)") && e.contains("AArch64"),
            "{e}"
        );
    }

    #[test]
    fn class_and_byte_order_count_not_only_the_machine() {
        // x32 (32-bit x86-64) is not amd64; a big-endian ppc64 is not ppc64le.
        assert!(check_header(&header(CLASS_32, DATA_LSB, 62), "linux", "amd64").is_err());
        assert!(check_header(&header(CLASS_64, DATA_MSB, 21), "linux", "ppc64le").is_err());
        assert!(check_header(&header(CLASS_64, DATA_LSB, 8), "linux", "mips64").is_err());
    }

    #[test]
    fn non_elf_artifacts_are_accepted_as_they_are() {
        for head in [
            &b"#!/bin/sh\necho demoapp 1.0.0\n"[..],
            b"",
            b"\x7fEL",
            b"MZ\x90\x00",
            b"\xcf\xfa\xed\xfe\x07\x00\x00\x01",
        ] {
            assert_eq!(check_header(head, "linux", "amd64"), Ok(()), "{head:?}");
        }
    }

    #[test]
    fn an_unknown_arch_or_os_is_not_checked() {
        let arm = header(CLASS_64, DATA_LSB, 183);
        assert_eq!(check_header(&arm, "linux", "future64"), Ok(()));
        assert_eq!(check_header(&arm, "someos", "arm64"), Ok(()));
        assert_eq!(check_header(&arm, "freebsd", "arm64"), Ok(()));
    }

    #[test]
    fn an_elf_for_an_os_or_arch_without_elf_is_refused() {
        let amd = header(CLASS_64, DATA_LSB, 62);
        for os in ["darwin", "windows"] {
            let e = check_header(&amd, os, "amd64").unwrap_err();
            assert!(e.contains(&format!("{os} does not run ELF")), "{e}");
        }
        let e = check_header(&amd, "wasip1", "wasm").unwrap_err();
        assert!(e.contains("does not run ELF"), "{e}");
        let e = check_header(&amd, "linux", "wasm").unwrap_err();
        assert!(e.contains("WebAssembly"), "{e}");
    }

    #[test]
    fn damaged_headers_are_refused() {
        let e = check_header(b"\x7fELF\x02\x01\x01", "linux", "amd64").unwrap_err();
        assert!(e.contains("only 7 bytes"), "{e}");
        let mut h = header(CLASS_64, DATA_LSB, 62);
        h[4] = 3;
        assert!(
            check_header(&h, "linux", "amd64")
                .unwrap_err()
                .contains("invalid class")
        );
        let mut h = header(CLASS_64, DATA_LSB, 62);
        h[5] = 0;
        assert!(
            check_header(&h, "linux", "amd64")
                .unwrap_err()
                .contains("byte order")
        );
    }

    #[test]
    fn this_machines_own_binaries_pass_for_its_arch() {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "riscv64" => "riscv64",
            "s390x" => "s390x",
            "loongarch64" => "loong64",
            _ => return,
        };
        let head = std::fs::read("/bin/sh").unwrap();
        assert_eq!(check_header(&head[..HEADER_BYTES], "linux", arch), Ok(()));
        let other = if arch == "arm64" { "amd64" } else { "arm64" };
        assert!(check_header(&head[..HEADER_BYTES], "linux", other).is_err());
    }
}
