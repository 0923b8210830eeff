//! Conformance of `fleetup inventory` with `ansible-inventory` and `ansible --list-hosts`.
