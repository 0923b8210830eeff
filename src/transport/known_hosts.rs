//! known_hosts files, matched as OpenSSH matches them (being written).
