//! The pure logic of running many hosts: rolling batches ([`SerialSpec`]), the order hosts are
//! taken in ([`HostOrder`]), the fleet-wide failure budget ([`Budget`]) and the retry file
//! ([`write_retry_file`]). Nothing here connects to a host or prints; the fleet command drives
//! it. `docs/rolling.md` is the operator's view of the same rules.
//!
//! How the pieces fit, per run:
//!
//! 1. The selected hosts are put in order with [`HostOrder::apply`].
//! 2. [`SerialSpec::batches`] cuts them into batch sizes (the first batch is the canary); with
//!    no `--serial` and no `fleetup_serial`, [`SerialSpec::all`] gives one batch of every host.
//! 3. After each batch, [`Budget::should_stop`] is asked with the failures of the whole run so
//!    far; when it says stop, the hosts of later batches are never started (reported
//!    `skipped`).
//! 4. At the end, [`write_retry_file`] writes the hosts that did not succeed (or removes a
//!    stale file when every host did), readable as `--limit @FILE`.

mod budget;
mod order;
mod retry;
mod serial;

pub use budget::{Budget, BudgetError};
pub use order::{HostOrder, HostOrderError, natural_cmp};
pub use retry::{DEFAULT_RETRY_FILE, default_retry_path, write_retry_file};
pub use serial::{MAX_SERIAL_ENTRIES, SerialEntry, SerialError, SerialSpec};
