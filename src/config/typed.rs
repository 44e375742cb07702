//! Typed values: the enums settings hold, how each field type is read from a
//! validated value, and the extraction of [`Settings`] from the resolved
//! configuration. The section structs themselves are defined with their
//! settings in `settings.rs`.

use std::time::Duration;

use figment::providers::Serialized;
use figment::value::{Dict, Empty, Tag, Value};
use figment::Figment;
use serde::{Deserialize, Deserializer};

use super::settings::{Kind, Settings};
use super::{ConfigError, Resolved};

/// What every serving role's section has: where it listens and its queue
/// bound. Read through [`Settings::serving`], so the shared start-up needs
/// no per-role code.
pub struct Serving<'a> {
    /// Arrow Flight `host:port`.
    pub flight_addr: &'a str,
    /// Admin HTTP `host:port`.
    pub http_addr: &'a str,
    /// Batches in flight before the role waits (flow control).
    pub max_inflight: u32,
    /// Where the role keeps its state and reports where it listens.
    pub state_dir: &'a str,
}

impl Settings {
    /// The listening addresses and queue bound of a serving role (source,
    /// processor, sink); `None` for the others.
    pub(crate) fn serving(&self, role: super::Role) -> Option<Serving<'_>> {
        use super::Role;
        let (flight_addr, http_addr, max_inflight, state_dir) = match role {
            Role::Source => (
                &self.source.flight_addr,
                &self.source.http_addr,
                self.source.max_inflight,
                &self.source.state_dir,
            ),
            Role::Processor => (
                &self.processor.flight_addr,
                &self.processor.http_addr,
                self.processor.max_inflight,
                &self.processor.state_dir,
            ),
            Role::Sink => (
                &self.sink.flight_addr,
                &self.sink.http_addr,
                self.sink.max_inflight,
                &self.sink.state_dir,
            ),
            Role::Controlplane | Role::Pipeline => return None,
        };
        Some(Serving {
            flight_addr,
            http_addr,
            max_inflight,
            state_dir,
        })
    }
}

/// One of a fixed set of words, as a setting's type: parsed once at load,
/// matched exhaustively by the code that uses it.
macro_rules! words {
    ($(#[doc = $doc:literal])* $Enum:ident { $($(#[doc = $vdoc:literal])* $Variant:ident = $word:literal),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        pub enum $Enum {
            $($(#[doc = $vdoc])* #[serde(rename = $word)] $Variant,)+
        }

        impl $Enum {
            /// The words accepted, in order.
            pub(crate) const WORDS: &'static [&'static str] = &[$($word),+];

            /// The word as written in configuration.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($Enum::$Variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $Enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl SettingType for $Enum {
            fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::deserialize(d)
            }
        }
    };
}

words! {
    /// `log.format`.
    LogFormat {
        /// Human-readable lines.
        Text = "text",
        /// One JSON object per line.
        Json = "json",
    }
}

words! {
    /// `source.on_error`: what a bad ledger does to the stream.
    OnError {
        /// Fail the stream.
        Fail = "fail",
        /// Skip it and record it in the quarantine file.
        Skip = "skip",
    }
}

words! {
    /// `processor.kind`: what the processor extracts.
    ExtractKind {
        /// Token transfers.
        Ttp = "ttp",
        /// Soroban contract-data changes.
        ContractData = "contract-data",
    }
}

words! {
    /// `processor.mode`: where token transfers come from.
    TtpMode {
        /// Unified when every transaction has V4 meta, derived otherwise.
        Auto = "auto",
        /// CAP-67 events.
        Unified = "unified",
        /// Derived from operations.
        Derived = "derived",
    }
}

words! {
    /// `processor.decoder`: how ledgers are read.
    Decoder {
        /// In place, decoding only what the rules use.
        Fast = "fast",
        /// Fully, with stellar-xdr.
        Reference = "reference",
    }
}

/// How a field type is read from its validated value. Values arrive
/// normalised (see `validate.rs`), so a failure here is a bug, not bad input.
pub(crate) trait SettingType: Sized {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

macro_rules! plain {
    ($($ty:ty),+) => {$(
        impl SettingType for $ty {
            fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$ty>::deserialize(d)
            }
        }
    )+};
}

plain!(
    bool,
    u32,
    u64,
    f64,
    String,
    Vec<String>,
    Option<String>,
    Option<u32>
);

impl SettingType for Duration {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        super::validate::parse_duration(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid duration {text:?}")))
    }
}

impl SettingType for Vec<super::OutputSpec> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|spec| super::OutputSpec::parse(spec).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// The `deserialize_with` of every settings field.
pub(crate) fn setting<'de, D: Deserializer<'de>, T: SettingType>(d: D) -> Result<T, D::Error> {
    T::read(d)
}

/// Builds the typed settings from validated values. Every key is present:
/// an unset one as "none" (an empty list for lists), so a field the
/// definition forgot to make optional fails here, in every test.
pub(super) fn extract(resolved: &[Resolved]) -> Result<Settings, ConfigError> {
    let mut root = Dict::new();
    for r in resolved {
        let value = match (&r.value, r.setting.kind) {
            (Some(value), _) => value.clone(),
            (None, Kind::List | Kind::Outputs) => Value::from(Vec::<String>::new()),
            (None, _) => Value::Empty(Tag::Default, Empty::None),
        };
        let section = root
            .entry(r.setting.section().to_string())
            .or_insert_with(|| Value::from(Dict::new()));
        if let Value::Dict(_, dict) = section {
            dict.insert(r.setting.name().to_string(), value);
        }
    }
    Figment::from(Serialized::defaults(root))
        .extract()
        .map_err(|e| ConfigError(format!("internal configuration error: {e}")))
}
