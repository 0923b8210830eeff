//! The SSH transport, with russh (being written).
