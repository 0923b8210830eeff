//! Reading what a host reports: the first semver in a version command's output, and `uname`
//! names mapped to Go's GOOS/GOARCH (the names artifacts carry).

use std::sync::LazyLock;

use regex::Regex;

static SEMVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\d+\.\d+\.\d+(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?",
    )
    .expect("valid regex")
});

/// The first semantic version in `text` (`v1.2.3`, `app version 1.2.3-rc.1+abc`, …), not
/// part of a longer dotted number (`10.1.2.3` has none) or glued to a word (`go1.22.1`).
pub fn first_semver(text: &str) -> Option<semver::Version> {
    for m in SEMVER.find_iter(text) {
        // Not the tail of a longer number or of a word (`go1.22.1`), but `v1.2.3` is fine.
        let mut back = text[..m.start()].chars().rev();
        let ok_before = match back.next() {
            None => true,
            Some('v' | 'V') => !back.next().is_some_and(char::is_alphanumeric),
            Some(c) => !(c.is_alphanumeric() || c == '.' || c == '_'),
        };
        if !ok_before {
            continue;
        }
        let after = text[m.end()..].chars().next();
        if matches!(after, Some('.'))
            && text[m.end() + 1..].starts_with(|c: char| c.is_ascii_digit())
        {
            continue;
        }
        // A trailing sentence dot or hyphen is not part of the version.
        let mut s = m.as_str();
        while s.ends_with(['.', '-']) {
            s = &s[..s.len() - 1];
        }
        if let Ok(v) = semver::Version::parse(s) {
            return Some(v);
        }
    }
    None
}

/// Go's GOOS for `uname -s`.
pub fn go_os(uname_s: &str) -> String {
    let s = uname_s.trim();
    match s {
        "Linux" => "linux".into(),
        "Darwin" => "darwin".into(),
        "FreeBSD" => "freebsd".into(),
        "OpenBSD" => "openbsd".into(),
        "NetBSD" => "netbsd".into(),
        "DragonFly" => "dragonfly".into(),
        "SunOS" => "solaris".into(),
        "AIX" => "aix".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// Go's GOARCH for `uname -m`.
pub fn go_arch(uname_m: &str) -> String {
    let m = uname_m.trim();
    match m {
        "x86_64" | "amd64" | "x64" => "amd64".into(),
        "aarch64" | "arm64" | "aarch64_be" => "arm64".into(),
        "i386" | "i486" | "i586" | "i686" | "x86" | "i86pc" => "386".into(),
        "ppc64le" => "ppc64le".into(),
        "ppc64" => "ppc64".into(),
        "s390x" => "s390x".into(),
        "riscv64" => "riscv64".into(),
        "loongarch64" => "loong64".into(),
        "mips64" => "mips64".into(),
        "mips" => "mips".into(),
        other if other.starts_with("arm") => "arm".into(),
        other => other.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_semver_in_real_outputs() {
        let cases = [
            ("app version 1.2.3\n", Some("1.2.3")),
            ("v2.0.0-rc.1+build.5 (go1.22.1)", Some("2.0.0-rc.1+build.5")),
            (
                "Pydio Cells Home Edition\nVersion: 4.4.3\nGit commit: abc",
                Some("4.4.3"),
            ),
            (
                "built with go1.22.1 on 10.1.2.3; release 0.9.1.",
                Some("0.9.1"),
            ),
            ("no version here", None),
            ("01.2.3 then 1.2.3", Some("1.2.3")),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                first_semver(text).map(|v| v.to_string()),
                want.map(str::to_owned),
                "{text:?}"
            );
        }
    }

    #[test]
    fn uname_names_map_to_go() {
        assert_eq!(go_os("Linux\n"), "linux");
        assert_eq!(go_os("Darwin"), "darwin");
        assert_eq!(go_arch("x86_64\n"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("i686"), "386");
        assert_eq!(go_arch("armv7l"), "arm");
        assert_eq!(go_arch("armv6l"), "arm");
        assert_eq!(go_arch("ppc64le"), "ppc64le");
    }
}
