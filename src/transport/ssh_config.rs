//! `~/.ssh/config`, read as OpenSSH reads the parts fleetup uses (being written).
