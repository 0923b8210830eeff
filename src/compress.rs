//! Optional compression of the upload (`fleetup_compress`): the controller compresses each
//! artifact once, the host decompresses it on the fly while staging, and the staged file is
//! still checked against the artifact's own size and sha256 (so a broken stream, a decompressor
//! bug or a wrong level can only fail the stage, never install anything else).
//!
//! It pays where the link, not the CPU, is the limit: a controller pushing to many hosts
//! through one uplink, a WAN, a VPN. See `docs/performance.md` for what was measured.

use std::io::Write;

/// How the artifact travels to a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    None,
    Zstd,
    Gzip,
}

/// `fleetup_compress`: what the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressPolicy {
    /// Never compress (the default).
    None,
    /// zstd when the host has `zstd`, else uncompressed.
    Zstd,
    /// gzip when the host has `gzip`, else uncompressed.
    Gzip,
    /// zstd when the host has it, else gzip when it has that, else uncompressed.
    Auto,
}

/// zstd level: level 3 (zstd's default) compresses a typical binary ~2.5× at hundreds of MB/s.
const ZSTD_LEVEL: i32 = 3;

impl Compression {
    /// The name used in settings, the probe, the stage script and reports.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        }
    }

    /// The decompressors the probe looks for, in order of preference.
    pub const PROBED: [Compression; 2] = [Compression::Zstd, Compression::Gzip];

    fn from_name(name: &str) -> Option<Self> {
        Self::PROBED.into_iter().find(|c| c.name() == name)
    }

    /// Parses the probe's `decompress=` line (space-separated names; unknown ones ignored).
    pub fn parse_available(line: &str) -> Vec<Self> {
        line.split_whitespace()
            .filter_map(Self::from_name)
            .collect()
    }

    /// Compresses `data` (CPU-bound: call it off the async threads).
    pub fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Zstd => zstd::bulk::compress(data, ZSTD_LEVEL),
            Compression::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 2),
                    flate2::Compression::default(),
                );
                enc.write_all(data)?;
                enc.finish()
            }
        }
    }
}

impl CompressPolicy {
    /// Parses `fleetup_compress`.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" | "no" | "false" | "off" => Ok(Self::None),
            "zstd" => Ok(Self::Zstd),
            "gzip" => Ok(Self::Gzip),
            "auto" => Ok(Self::Auto),
            _ => Err(format!(
                "fleetup_compress {value:?} is not one of none, zstd, gzip, auto"
            )),
        }
    }

    /// What a host with the decompressors `available` gets.
    pub fn choose(self, available: &[Compression]) -> Compression {
        let has = |c: Compression| available.contains(&c);
        match self {
            Self::None => Compression::None,
            Self::Zstd if has(Compression::Zstd) => Compression::Zstd,
            Self::Gzip if has(Compression::Gzip) => Compression::Gzip,
            Self::Auto => Compression::PROBED
                .into_iter()
                .find(|&c| has(c))
                .unwrap_or(Compression::None),
            Self::Zstd | Self::Gzip => Compression::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::process::{Command, Stdio};

    /// Executable-like content: repeated structure with varying fields.
    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0u32..20_000 {
            v.extend_from_slice(b"\x7fELF\x02\x01\x01 mov rax, ");
            v.extend_from_slice(&i.to_le_bytes());
            v.extend_from_slice(&(i.wrapping_mul(2_654_435_761)).to_be_bytes());
        }
        v
    }

    #[test]
    fn policy_parsing_and_choice() {
        assert_eq!(CompressPolicy::parse("ZSTD").unwrap(), CompressPolicy::Zstd);
        assert_eq!(CompressPolicy::parse("off").unwrap(), CompressPolicy::None);
        assert!(CompressPolicy::parse("xz").unwrap_err().contains("xz"));
        let both = Compression::parse_available("gzip zstd bogus");
        assert_eq!(both, [Compression::Gzip, Compression::Zstd]);
        let gz = Compression::parse_available("gzip");
        assert_eq!(CompressPolicy::Auto.choose(&both), Compression::Zstd);
        assert_eq!(CompressPolicy::Auto.choose(&gz), Compression::Gzip);
        assert_eq!(CompressPolicy::Auto.choose(&[]), Compression::None);
        assert_eq!(CompressPolicy::Zstd.choose(&gz), Compression::None);
        assert_eq!(CompressPolicy::Gzip.choose(&both), Compression::Gzip);
        assert_eq!(CompressPolicy::None.choose(&both), Compression::None);
    }

    #[test]
    fn round_trips_in_process() {
        let data = sample();
        let z = Compression::Zstd.compress(&data).unwrap();
        assert!(z.len() < data.len() / 2, "{} of {}", z.len(), data.len());
        assert_eq!(zstd::bulk::decompress(&z, data.len()).unwrap(), data);
        let g = Compression::Gzip.compress(&data).unwrap();
        assert!(g.len() < data.len() / 2);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&g[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert_eq!(Compression::None.compress(&data).unwrap(), data);
    }

    /// What the hosts run: the `zstd` and `gzip` commands read our streams.
    #[test]
    fn the_host_commands_decompress_our_streams() {
        let data = sample();
        for c in Compression::PROBED {
            let tool = c.name();
            if Command::new(tool).arg("--version").output().is_err() {
                panic!("{tool} is not installed (scripts/test installs it)");
            }
            let packed = c.compress(&data).unwrap();
            let mut child = Command::new(tool)
                .args(["-d", "-c"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || stdin.write_all(&packed));
            let out = child.wait_with_output().unwrap();
            writer.join().unwrap().unwrap();
            assert!(out.status.success(), "{tool} -d failed");
            assert_eq!(out.stdout, data, "{tool}");
        }
    }
}
