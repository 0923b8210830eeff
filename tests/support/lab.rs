//! The lab: real OpenSSH servers on loopback, for tests.
