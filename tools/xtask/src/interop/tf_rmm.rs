//! `cargo xtask interop --tf-rmm FILE`: TF-RMM under Rampart's root.
//! Stub: the run itself is being written separately.

use std::path::Path;

use anyhow::bail;

use crate::qemu::RunOptions;
use crate::workspace::Workspace;

pub fn run_tf_rmm(_ws: &Workspace, tf_rmm: &Path, _options: &RunOptions) -> anyhow::Result<bool> {
    bail!("interop --tf-rmm {}: not implemented yet", tf_rmm.display())
}
