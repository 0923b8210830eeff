//! Executes a [`Plan`] on one host: lock, stage, back up + swap, restart, health, and the
//! automatic rollback when the restart or the health check fails; the lock is released on
//! every path the connection allows.
//!
//! Round trips for an upgrade: lock 1, stage 1, swap 1, restart 1 (when configured), health 1
//! (when configured), unlock 1 (the probe, 1, came before, in [`super::probe()`]). A plan with
//! nothing to do costs none.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;

use super::health::restart_and_check;
use super::rollback::{Restored, restore};
use super::settings::HostSettings;
use super::swap::backup_and_swap;
use super::{Step, StepError, lock, split_path, stage};
use crate::compress::Compression;
use crate::plan::{Action, Plan};
use crate::transport::Transport;

/// How an upgrade of one host ended (a step that failed before the swap is an `Err`, with
/// the target untouched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The target is in place (and restarted and healthy when configured).
    Upgraded {
        from: Option<semver::Version>,
        to: String,
        /// The backup of the previous binary.
        backup: String,
    },
    /// Already at the target: nothing was sent.
    Unchanged,
    /// The restart or the health check failed after the swap; the previous binary was put
    /// back. `after` is the failure of the restart/health check after the rollback, if any.
    RolledBack {
        cause: StepError,
        restored: Restored,
        after: Option<StepError>,
    },
}

impl Outcome {
    /// The report's `result`: `upgraded`, `unchanged` or `rolled_back`.
    pub fn result_name(&self) -> &'static str {
        match self {
            Outcome::Upgraded { .. } => "upgraded",
            Outcome::Unchanged => "unchanged",
            Outcome::RolledBack { .. } => "rolled_back",
        }
    }
}

/// Executes `plan` on the host of `t`, with `artifact` the bytes of `plan.artifact` (as
/// verified in the controller's cache). `run_id` names this run in the host's lock.
pub async fn upgrade<T: Transport>(
    t: &T,
    settings: &HostSettings,
    plan: &Plan,
    artifact: Bytes,
    run_id: &str,
) -> Result<Outcome, StepError> {
    upgrade_observed(t, settings, plan, artifact, run_id, &NoEvents).await
}

/// Receives each step of a host as it starts and as it succeeds (the binary turns them into
/// events for lines, bars and reports).
pub trait StepEvents: Send + Sync {
    fn step_started(&self, _host: &str, _step: Step) {}
    fn step_done(&self, host: &str, step: Step, detail: &str);
    /// The upload of `total` bytes begins: the returned counter is advanced as they go.
    fn upload(&self, _host: &str, _total: u64) -> Arc<AtomicU64> {
        Arc::new(AtomicU64::new(0))
    }
}

/// Ignores every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl StepEvents for NoEvents {
    fn step_done(&self, _host: &str, _step: Step, _detail: &str) {}
}

/// [`upgrade`], telling `events` of each step done.
pub async fn upgrade_observed<T: Transport>(
    t: &T,
    settings: &HostSettings,
    plan: &Plan,
    artifact: Bytes,
    run_id: &str,
    events: &dyn StepEvents,
) -> Result<Outcome, StepError> {
    match &plan.action {
        Action::None => return Ok(Outcome::Unchanged),
        Action::Refuse { reason } | Action::Blocked { reason } => {
            return Err(StepError::new(t.host(), Step::Decide, reason.clone()));
        }
        Action::Upgrade => {}
    }
    let p = &plan.probe;
    let name = split_path(&p.real_path).1;
    events.step_started(t.host(), Step::Lock);
    let held = lock::acquire(t, settings, &p.dir, name, run_id).await?;
    events.step_done(t.host(), Step::Lock, &p.dir);
    let result = locked(t, settings, plan, artifact, events).await;
    if let Err(e) = lock::release(t, settings, &held).await {
        tracing::warn!(host = t.host(), "releasing the lock: {e}");
    }
    result
}

async fn locked<T: Transport>(
    t: &T,
    settings: &HostSettings,
    plan: &Plan,
    artifact: Bytes,
    events: &dyn StepEvents,
) -> Result<Outcome, StepError> {
    let size = artifact.len();
    events.step_started(t.host(), Step::Stage);
    let sent = events.upload(t.host(), size as u64);
    let staged = stage::stage(t, settings, plan, artifact, sent).await?;
    let setcap = if plan.setcap {
        ", setcap cap_net_bind_service"
    } else {
        ""
    };
    let sent = match plan.compression {
        Compression::None => format!("{size} bytes"),
        c => format!("{} bytes ({size} sent, {})", plan.artifact.size, c.name()),
    };
    events.step_done(
        t.host(),
        Step::Stage,
        &format!(
            "{sent}, sha256 verified on the host{setcap}, reports {}",
            plan.target
        ),
    );
    events.step_started(t.host(), Step::Swap);
    let backup = backup_and_swap(t, settings, plan, &staged.path).await?;
    events.step_done(
        t.host(),
        Step::Swap,
        &format!("backup {}", split_path(&backup).1),
    );
    let checks =
        settings.restart || settings.health_url.is_some() || settings.health_command.is_some();
    if checks {
        events.step_started(t.host(), Step::Health);
    }
    let checked = restart_and_check(t, settings).await;
    if checked.is_ok() && checks {
        events.step_done(t.host(), Step::Health, "restarted and healthy");
    }
    let Err(cause) = checked else {
        return Ok(Outcome::Upgraded {
            from: plan.probe.version.clone(),
            to: plan.target.clone(),
            backup,
        });
    };
    tracing::warn!(host = t.host(), "rolling back: {cause}");
    let p = &plan.probe;
    let mut backups = p.backups.clone();
    backups.push(split_path(&backup).1.to_owned());
    events.step_started(t.host(), Step::Rollback);
    let restored = restore(t, settings, &p.real_path, &p.dir, &backups)
        .await
        .map_err(|e| StepError {
            message: format!("{} (rolling back after: {})", e.message, cause.message),
            ..e
        })?;
    let after = restart_and_check(t, settings).await.err();
    Ok(Outcome::RolledBack {
        cause,
        restored,
        after,
    })
}
