//! Identifiers and small value types: node, centre and network ids, message and case ids,
//! timestamps, language tags and country codes.
//!
//! Each is a newtype that can only hold a valid value: parsing is the only way in, and
//! deserialisation goes through the same parser, so a malformed id in a peer's body is a
//! decode error, not a value that reaches routing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::limits::{MAX_CASE_ID, MAX_LABEL, MAX_LANGUAGE_TAG, MAX_TIMESTAMP_MILLIS};

fn invalid(field: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError::InvalidField {
        field,
        detail: detail.into(),
    }
}

/// Checks one DNS-style label: 1–63 of `[a-z0-9-]`, not starting or ending with `-`.
fn check_label(field: &'static str, s: &str) -> Result<(), DecodeError> {
    if s.is_empty() || s.len() > MAX_LABEL {
        return Err(invalid(
            field,
            format!("{s:?} must be 1 to {MAX_LABEL} characters"),
        ));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid(
            field,
            format!("{s:?} may contain only a-z, 0-9 and '-'"),
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(invalid(
            field,
            format!("{s:?} may not start or end with '-'"),
        ));
    }
    Ok(())
}

/// Serialises a string id as its string (what `#[serde(into = "String")]` would write, without
/// the clone that `into` makes on every serialisation: ids are written many times per message).
macro_rules! serialize_as_str {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

macro_rules! label_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        serialize_as_str!($name);

        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = DecodeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                check_label($field, s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = DecodeError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                check_label($field, &s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

label_type!(
    /// A network: the set of centres that trust one network CA (e.g. `central-asia`).
    NetworkId,
    "network"
);
label_type!(
    /// A centre: the organisation that runs a node (e.g. `caricc`). One centre may run nodes in several networks.
    CentreId,
    "centre"
);

/// A node: `<centre>.<network>`, as written in the node's certificate (e.g. `caricc.central-asia`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct NodeId {
    full: String,
    dot: usize,
}

serialize_as_str!(NodeId);

impl NodeId {
    /// Builds a node id from its centre and network.
    pub fn new(centre: &CentreId, network: &NetworkId) -> Self {
        Self {
            full: format!("{centre}.{network}"),
            dot: centre.as_str().len(),
        }
    }
    /// The whole id, `<centre>.<network>`.
    pub fn as_str(&self) -> &str {
        &self.full
    }
    /// The centre part.
    pub fn centre(&self) -> CentreId {
        CentreId(self.full[..self.dot].to_owned())
    }
    /// The network part.
    pub fn network(&self) -> NetworkId {
        NetworkId(self.full[self.dot + 1..].to_owned())
    }
    /// The centre part as a string slice.
    pub fn centre_str(&self) -> &str {
        &self.full[..self.dot]
    }
    /// The network part as a string slice.
    pub fn network_str(&self) -> &str {
        &self.full[self.dot + 1..]
    }
}

/// Checks a node id's shape (`<centre>.<network>`, each a label); returns where the dot is.
fn check_node_id(s: &str) -> Result<usize, DecodeError> {
    let Some((centre, network)) = s.split_once('.') else {
        return Err(invalid("node", format!("{s:?} must be <centre>.<network>")));
    };
    check_label("node centre", centre)?;
    check_label("node network", network)?;
    Ok(centre.len())
}

impl FromStr for NodeId {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let dot = check_node_id(s)?;
        Ok(Self {
            full: s.to_owned(),
            dot,
        })
    }
}

impl TryFrom<String> for NodeId {
    type Error = DecodeError;
    /// Keeps the string it is given (decoding builds every id this way: no second copy).
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let dot = check_node_id(&s)?;
        Ok(Self { full: s, dot })
    }
}

impl From<NodeId> for String {
    fn from(v: NodeId) -> String {
        v.full
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({:?})", self.full)
    }
}

/// A message id: SHA-256 of the signed body bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(pub [u8; 32]);

/// Hashes the id's first 8 bytes only: they are already uniformly distributed (a SHA-256
/// output), and the node's maps hash with a keyed hasher, so nobody can aim ids at one
/// bucket; a quarter of the bytes is a quarter of the hashing on every lookup. Consistent
/// with `Eq`: equal ids have equal first bytes.
impl std::hash::Hash for MessageId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut head = [0u8; 8];
        head.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(head));
    }
}

impl MessageId {
    /// Computes the id of a body: SHA-256 of its exact bytes.
    pub fn of_body(body: &[u8]) -> Self {
        let d = ring::digest::digest(&ring::digest::SHA256, body);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }
    /// The first 8 hex digits, for logs.
    pub fn short(&self) -> String {
        hex(&self.0[..4])
    }
    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.short())
    }
}

impl FromStr for MessageId {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = unhex(s).ok_or_else(|| invalid("message id", "must be 64 hex digits"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| invalid("message id", "must be 64 hex digits"))?;
        Ok(Self(arr))
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses lower- or upper-case hex; `None` on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A case shared between centres: 1–64 of `[A-Za-z0-9._-]` (e.g. `CARICC-2026-0042`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct CaseId(String);

serialize_as_str!(CaseId);

impl CaseId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CaseId {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty()
            || s.len() > MAX_CASE_ID
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(invalid(
                "case id",
                format!("{s:?} must be 1 to {MAX_CASE_ID} of A-Z a-z 0-9 . _ -"),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for CaseId {
    type Error = DecodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CaseId> for String {
    fn from(v: CaseId) -> String {
        v.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaseId({:?})", self.0)
    }
}

/// A UTC instant, in milliseconds since the Unix epoch. The protocol never reads a clock:
/// callers pass time in.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// From whole seconds since the epoch.
    pub fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }
    /// Milliseconds since the epoch.
    pub fn millis(self) -> u64 {
        self.0
    }
    /// Whole seconds since the epoch.
    pub fn secs(self) -> u64 {
        self.0 / 1000
    }
    /// This instant plus some milliseconds, saturating.
    pub fn plus_millis(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }
    /// Refuses instants after [`MAX_TIMESTAMP_MILLIS`] (year 9999), which have no RFC 3339 form.
    pub fn check(self) -> Result<(), DecodeError> {
        if self.0 > MAX_TIMESTAMP_MILLIS {
            return Err(invalid(
                "time",
                format!("{} ms is after the year 9999", self.0),
            ));
        }
        Ok(())
    }
    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-29T02:24:10.000Z`.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0 / 1000;
        let ms = self.0 % 1000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A BCP 47 language tag (e.g. `ru`, `ar`, `zh-Hans`, `kk-Cyrl-KZ`), checked for shape
/// (alphanumeric subtags of 1–8 characters, a 2–8 letter primary subtag), not against the registry.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct LanguageTag(String);

serialize_as_str!(LanguageTag);

impl LanguageTag {
    /// The tag as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for LanguageTag {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || invalid("language", format!("{s:?} is not a BCP 47 language tag"));
        if s.len() > MAX_LANGUAGE_TAG {
            return Err(bad());
        }
        let mut parts = s.split('-');
        let primary = parts.next().ok_or_else(bad)?;
        if !(2..=8).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad());
        }
        for p in parts {
            if !(1..=8).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad());
            }
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for LanguageTag {
    type Error = DecodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<LanguageTag> for String {
    fn from(v: LanguageTag) -> String {
        v.0
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LanguageTag({:?})", self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case (e.g. `KZ`, `OM`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "[u8; 2]", into = "[u8; 2]")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters can be stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl TryFrom<[u8; 2]> for CountryCode {
    type Error = DecodeError;
    fn try_from(b: [u8; 2]) -> Result<Self, Self::Error> {
        if b.iter().all(|c| c.is_ascii_uppercase()) {
            Ok(Self(b))
        } else {
            Err(invalid(
                "country",
                "must be two upper-case letters (ISO 3166-1 alpha-2)",
            ))
        }
    }
}

impl From<CountryCode> for [u8; 2] {
    fn from(c: CountryCode) -> [u8; 2] {
        c.0
    }
}

impl FromStr for CountryCode {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b: [u8; 2] = s
            .as_bytes()
            .try_into()
            .map_err(|_| invalid("country", format!("{s:?} must be two letters")))?;
        Self::try_from(b)
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_parses_centre_and_network() {
        let n: NodeId = "caricc.central-asia".parse().unwrap();
        assert_eq!(n.centre_str(), "caricc");
        assert_eq!(n.network_str(), "central-asia");
        assert_eq!(n.network().as_str(), "central-asia");
    }

    #[test]
    fn node_id_rejects_bad_shapes() {
        for bad in [
            "caricc",
            "a.b.c",
            "CARICC.gulf",
            ".gulf",
            "x.",
            "-x.gulf",
            "x.gulf-",
            "x y.gulf",
        ] {
            assert!(bad.parse::<NodeId>().is_err(), "{bad} accepted");
            // Decoding builds ids from owned strings: the same checks apply.
            assert!(NodeId::try_from(bad.to_owned()).is_err(), "{bad} decoded");
        }
        let n = NodeId::try_from("caricc.central-asia".to_owned()).unwrap();
        assert_eq!(n, "caricc.central-asia".parse::<NodeId>().unwrap());
        assert_eq!(n.centre_str(), "caricc");
    }

    #[test]
    fn string_ids_serialize_exactly_as_their_strings() {
        // Logs, states and bodies already written hold ids as plain strings: serialising an
        // id must give the same bytes (postcard) and text (JSON) as its string, and read back.
        fn same<T>(id: T, text: &str)
        where
            T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug,
        {
            let bytes = postcard::to_allocvec(&id).unwrap();
            assert_eq!(bytes, postcard::to_allocvec(text).unwrap());
            assert_eq!(postcard::from_bytes::<T>(&bytes).unwrap(), id);
            assert_eq!(
                serde_json::to_string(&id).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
        same(
            "caricc.central-asia".parse::<NodeId>().unwrap(),
            "caricc.central-asia",
        );
        same("central-asia".parse::<NetworkId>().unwrap(), "central-asia");
        same("caricc".parse::<CentreId>().unwrap(), "caricc");
        same(
            "CARICC-2026-0042".parse::<CaseId>().unwrap(),
            "CARICC-2026-0042",
        );
        same("kk-Cyrl-KZ".parse::<LanguageTag>().unwrap(), "kk-Cyrl-KZ");
        assert!(postcard::from_bytes::<NodeId>(&postcard::to_allocvec("Bad").unwrap()).is_err());
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_795_919_050_123).to_rfc3339(),
            "2026-11-29T02:24:10.123Z"
        );
        assert_eq!(
            Timestamp::from_secs(951_782_400).to_rfc3339(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn language_tags() {
        for ok in ["ru", "ar", "zh-Hans", "kk-Cyrl-KZ", "en-GB"] {
            ok.parse::<LanguageTag>().unwrap();
        }
        for bad in ["", "r", "ru_RU", "toolongprimary", "ru-", "ар"] {
            assert!(bad.parse::<LanguageTag>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn message_id_hex_round_trip() {
        let id = MessageId::of_body(b"x");
        assert_eq!(id.to_string().parse::<MessageId>().unwrap(), id);
        assert_eq!(id.short().len(), 8);
    }
}
