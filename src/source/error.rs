//! What can go wrong reading ledgers, each naming the object or request and
//! the ledgers involved, and the Flight status it maps to.

use tonic::Status;

/// A source failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// An object inside a bounded range does not exist (a gap).
    #[error("{object}: ledger {ledger} is missing from the data lake (no such object)")]
    Missing {
        /// The object key looked for.
        object: String,
        /// The first ledger it should hold.
        ledger: u32,
    },
    /// An object or reply that exists but cannot be used.
    #[error("{object} (ledgers {first}-{last}): {detail}")]
    Corrupt {
        /// The object key or request.
        object: String,
        /// First ledger concerned.
        first: u32,
        /// Last ledger concerned.
        last: u32,
        /// What is wrong.
        detail: String,
    },
    /// Storage or RPC unreachable after retries.
    #[error("{what}: {detail}")]
    Unavailable {
        /// What was being read.
        what: String,
        /// The last failure.
        detail: String,
    },
    /// A request outside what the backend holds.
    #[error("{0}")]
    OutOfRange(String),
}

impl SourceError {
    /// The gRPC/Flight status for this error.
    pub fn status(&self) -> Status {
        let message = self.to_string();
        match self {
            SourceError::Missing { .. } => Status::not_found(message),
            SourceError::Corrupt { .. } => Status::data_loss(message),
            SourceError::Unavailable { .. } => Status::unavailable(message),
            SourceError::OutOfRange(_) => Status::out_of_range(message),
        }
    }

    /// The ledgers `--on-error skip` can skip over, if any.
    pub(crate) fn skippable(&self) -> Option<(String, u32, u32)> {
        match self {
            SourceError::Missing { object, ledger } => Some((object.clone(), *ledger, *ledger)),
            SourceError::Corrupt {
                object,
                first,
                last,
                ..
            } => Some((object.clone(), *first, *last)),
            _ => None,
        }
    }
}
