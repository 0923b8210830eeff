//! The steps on a host: probe, stage, back up, swap, setcap, restart, health, rollback (being written).
