//! The local transport: the same commands, run on the controller (being written).
