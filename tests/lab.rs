//! The lab starts and stops real OpenSSH hosts.
