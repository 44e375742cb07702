//! The ticket and per-batch metadata formats.

use serde::{Deserialize, Serialize};
use tonic::Status;

/// How a source sends ledgers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// `stellar_ledger`: one row per ledger, its summary and raw XDR, for
    /// any Flight client.
    #[default]
    Ledgers,
    /// `stellar_ledger_object`: the data lake's objects as stored (zstd),
    /// for our processor. Moving 650 KB of XDR per ledger between
    /// processes and walking it twice cost the pipeline more CPU than
    /// extracting the events; a compressed object is a seventh of the
    /// bytes and is walked once, by the processor. A source that cannot
    /// (Stellar RPC, `--on-error skip`) answers with `Ledgers` instead, so
    /// a consumer asking for objects must read either.
    Objects,
}

impl Form {
    fn is_ledgers(&self) -> bool {
        *self == Form::Ledgers
    }
}

/// A request for a ledger range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    /// First ledger.
    pub start: u32,
    /// Last ledger; `None` follows the network live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u32>,
    /// How a source should send the ledgers (other roles serve events and
    /// ignore it).
    #[serde(default, skip_serializing_if = "Form::is_ledgers")]
    pub form: Form,
}

impl Ticket {
    /// A bounded range.
    pub fn range(start: u32, end: u32) -> Self {
        Ticket {
            start,
            end: Some(end),
            form: Form::Ledgers,
        }
    }

    /// From `start`, following live.
    pub fn live(start: u32) -> Self {
        Ticket {
            start,
            end: None,
            form: Form::Ledgers,
        }
    }

    /// The same range in another form.
    pub fn with_form(self, form: Form) -> Self {
        Ticket { form, ..self }
    }

    /// Parses a ticket, with an `INVALID_ARGUMENT` status that quotes what
    /// was sent and says what is expected.
    pub fn parse(bytes: &[u8]) -> Result<Self, Status> {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        let ticket: Ticket = serde_json::from_slice(bytes).map_err(|e| {
            Status::invalid_argument(format!(
                "ticket {shown:?} is not valid: {e}; expected JSON {{\"start\": S, \"end\": E}} with ledger numbers (end optional; \"form\": \"ledgers\" or \"objects\" optional)"
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
    pub(crate) fn to_json(self) -> String {
        serde_json::to_string(&self).unwrap_or_default()
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
        let objects = Ticket::parse(br#"{"start": 5, "end": 9, "form": "objects"}"#).unwrap();
        assert_eq!(objects, Ticket::range(5, 9).with_form(Form::Objects));
        assert_eq!(
            Ticket::parse(objects.to_json().as_bytes()).unwrap(),
            objects
        );
        // The default form stays off the wire, so older peers read it.
        assert_eq!(Ticket::range(5, 9).to_json(), r#"{"start":5,"end":9}"#);
        let bad = Ticket::parse(br#"{"start": 5, "form": "zip"}"#).unwrap_err();
        assert!(bad.message().contains("zip"), "{}", bad.message());
    }
}
