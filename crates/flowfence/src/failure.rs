//! How a command fails: an error and the exit code it maps to, and the mapping from
//! each library's error type.

use flowfence_aggregate::{IngestError, PartialError};
use flowfence_inventory::InventoryError;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Flags that make no sense together (clap handles the rest).
    Usage(anyhow::Error),
    /// Input rejected under `--strict`.
    BadInput(anyhow::Error),
    /// A file or stream that could not be read or written.
    Io(anyhow::Error),
    /// A check that found problems (`verify`: connections a plan would break).
    CheckFailed(anyhow::Error),
}

impl Failure {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::BadInput(_) => 65,
            Failure::Io(_) => 74,
            Failure::CheckFailed(_) => 1,
        }
    }

    pub(crate) fn error(&self) -> &anyhow::Error {
        match self {
            Failure::Usage(e) | Failure::BadInput(e) | Failure::Io(e) | Failure::CheckFailed(e) => {
                e
            }
        }
    }
}

/// A partial result that can't be read: an I/O failure or bad input.
pub(crate) fn partial_failure(e: PartialError) -> Failure {
    match e {
        PartialError::Io { .. } => Failure::Io(e.into()),
        _ => Failure::BadInput(e.into()),
    }
}

/// A resumable run that failed: an unreadable checkpoint is bad input, the rest I/O.
pub(crate) fn ingest_failure(e: IngestError) -> Failure {
    match e {
        IngestError::Partial(p) => partial_failure(p),
        IngestError::Manifest { .. } => Failure::BadInput(e.into()),
        _ => Failure::Io(e.into()),
    }
}

/// An inventory that can't be loaded: an empty directory is a usage error, one that
/// can't be listed an I/O error, the rest bad input.
pub(crate) fn inventory_failure(e: InventoryError) -> Failure {
    match e {
        InventoryError::NoFiles { .. } => Failure::Usage(e.into()),
        InventoryError::ListDir { .. } => Failure::Io(e.into()),
        _ => Failure::BadInput(e.into()),
    }
}
