//! The ticket and per-batch metadata formats.

use serde::{Deserialize, Serialize};
use tonic::Status;

/// A request for a ledger range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    /// First ledger.
    pub start: u32,
    /// Last ledger; `None` follows the network live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u32>,
}

impl Ticket {
    /// A bounded range.
    pub fn range(start: u32, end: u32) -> Self {
        Ticket {
            start,
            end: Some(end),
        }
    }

    /// From `start`, following live.
    pub fn live(start: u32) -> Self {
        Ticket { start, end: None }
    }

    /// Parses a ticket, with an `INVALID_ARGUMENT` status that quotes what
    /// was sent and says what is expected.
    pub fn parse(bytes: &[u8]) -> Result<Self, Status> {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        let ticket: Ticket = serde_json::from_slice(bytes).map_err(|e| {
            Status::invalid_argument(format!(
                "ticket {shown:?} is not valid: {e}; expected JSON {{\"start\": S, \"end\": E}} with ledger numbers (end optional)"
            ))
        })?;
        if let Some(end) = ticket.end {
            if ticket.start > end {
                return Err(Status::invalid_argument(format!(
                    "ticket {shown:?}: start {} is after end {end}",
                    ticket.start
                )));
            }
        }
        Ok(ticket)
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether `ledger` is inside the range.
    pub fn contains(&self, ledger: u32) -> bool {
        ledger >= self.start && self.end.is_none_or(|end| ledger <= end)
    }
}

/// `app_metadata` of a record batch: the ledgers it completely covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMeta {
    /// First ledger covered.
    pub first_ledger: u32,
    /// Last ledger covered.
    pub last_ledger: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_parse_and_reject_clearly() {
        assert_eq!(
            Ticket::parse(br#"{"start": 5, "end": 9}"#).unwrap(),
            Ticket::range(5, 9)
        );
        assert_eq!(Ticket::parse(br#"{"start": 5}"#).unwrap(), Ticket::live(5));
        let bad = Ticket::parse(b"start=5").unwrap_err();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(bad.message().contains("start=5"), "{}", bad.message());
        let reversed = Ticket::parse(br#"{"start": 9, "end": 5}"#).unwrap_err();
        assert!(
            reversed.message().contains("start 9 is after end 5"),
            "{}",
            reversed.message()
        );
        assert!(Ticket::parse(br#"{"start": 1, "stop": 2}"#).is_err());
    }
}
