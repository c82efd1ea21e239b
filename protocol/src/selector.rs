//! Deconfliction selectors: normalised, then compared as keyed hashes.
//!
//! Two centres working on the same phone, passport, vessel, container, wallet or vehicle
//! should learn that they overlap, and with whom, without either learning the other's
//! content. Each centre extracts the [`Selector`]s of the entities its messages and cases
//! carry, normalises them (so `+7 (701) 123-45-67` and `0077011234567` are one phone, and
//! `mscu 123456-5` is `MSCU1234565`) and sends only `HMAC-SHA256(key, kind ‖ value)` to a
//! deconfliction service ([`Selectors`]). The key is shared by the centres and **not** held
//! by the service, which compares hashes it cannot invert and tells both centres of a match
//! ([`Overlap`]); see `docs/DECISIONS.md` ("Deconfliction") for who holds what.

use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::entity::{Entity, Payload};
use crate::error::DecodeError;
use crate::ids::{CaseId, MessageId, NodeId, Timestamp};

/// Most selector hashes one message may carry.
pub const MAX_SELECTORS: usize = 1024;

/// Domain separation for selector hashes (format version 1).
const DOMAIN: &[u8] = b"liaison/v1/selector\0";

/// What kind of thing a selector names; part of the hash, so equal strings of different kinds
/// never match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SelectorKind {
    /// A telephone number, E.164.
    Phone,
    /// An identity or travel document number.
    Document,
    /// A ship's IMO number.
    Vessel,
    /// A shipping container number (ISO 6346).
    Container,
    /// A cryptocurrency wallet address.
    Wallet,
    /// A vehicle: VIN, or registration plate.
    Vehicle,
    /// An e-mail address.
    Email,
}

impl SelectorKind {
    /// Lower-case name, e.g. `phone`.
    pub fn name(self) -> &'static str {
        match self {
            SelectorKind::Phone => "phone",
            SelectorKind::Document => "document",
            SelectorKind::Vessel => "vessel",
            SelectorKind::Container => "container",
            SelectorKind::Wallet => "wallet",
            SelectorKind::Vehicle => "vehicle",
            SelectorKind::Email => "email",
        }
    }
}

/// A normalised selector (never sent anywhere: only its keyed hash is).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selector {
    /// Its kind.
    pub kind: SelectorKind,
    /// Its normalised value, e.g. `+77011234567`.
    pub value: String,
}

/// How to read phone numbers written in national form (without `+` or `00`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhoneContext {
    /// The country calling code to add, e.g. `7` for Kazakhstan, `968` for Oman.
    pub country_code: Option<String>,
    /// The national trunk prefix to drop first, e.g. `8` in Kazakhstan, `0` in many countries.
    pub trunk_prefix: Option<String>,
}

/// Normalises a phone number to E.164 (`+` and 8 to 15 digits): separators `space - . ( ) /`
/// dropped, a leading `00` read as `+`, a national number completed from `ctx`. `None` if it
/// cannot be read as a phone number.
pub fn normalise_phone(raw: &str, ctx: &PhoneContext) -> Option<String> {
    let mut s: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}'))
        .collect();
    if let Some(rest) = s.strip_prefix("00") {
        s = format!("+{rest}");
    }
    let digits = if let Some(d) = s.strip_prefix('+') {
        d.to_owned()
    } else {
        let cc = ctx.country_code.as_deref()?;
        let national = match ctx.trunk_prefix.as_deref() {
            Some(t) if !t.is_empty() => s.strip_prefix(t).unwrap_or(&s),
            _ => &s,
        };
        format!("{cc}{national}")
    };
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

/// Upper-case letters and digits only (document numbers, containers, plates, VINs).
fn alnum_upper(raw: &str) -> String {
    raw.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Normalises a selector of `kind` written as `raw`; `None` if it cannot be read.
pub fn normalise(kind: SelectorKind, raw: &str, ctx: &PhoneContext) -> Option<String> {
    let v = match kind {
        SelectorKind::Phone => return normalise_phone(raw, ctx),
        SelectorKind::Document | SelectorKind::Vehicle => alnum_upper(raw),
        SelectorKind::Container => {
            let v = alnum_upper(raw);
            let b = v.as_bytes();
            let iso6346 = b.len() == 11
                && b[..4].iter().all(u8::is_ascii_uppercase)
                && b[4..].iter().all(u8::is_ascii_digit);
            return iso6346.then_some(v);
        }
        SelectorKind::Vessel => {
            let v = alnum_upper(raw);
            let digits = v.strip_prefix("IMO").unwrap_or(&v);
            let imo = digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit());
            return imo.then(|| digits.to_owned());
        }
        SelectorKind::Wallet => {
            let t = raw.trim();
            // Hex (Ethereum-style) and bech32 addresses are case-insensitive; base58 is not.
            let lower = t.to_ascii_lowercase();
            if lower.starts_with("0x") || lower.starts_with("bc1") || lower.starts_with("ltc1") {
                lower
            } else {
                t.to_owned()
            }
        }
        SelectorKind::Email => raw.trim().to_lowercase(),
    };
    (!v.is_empty()).then_some(v)
}

/// The selectors of a payload's entities, normalised, sorted, without duplicates. Entities
/// that are not selectors (people's names, places, events…) and values that cannot be read
/// are left out.
pub fn of_payload(p: &Payload, ctx: &PhoneContext) -> Vec<Selector> {
    let mut out = Vec::new();
    let mut add = |kind: SelectorKind, raw: &str| {
        if let Some(value) = normalise(kind, raw, ctx) {
            out.push(Selector { kind, value });
        }
    };
    for e in &p.entities {
        match e {
            Entity::Phone { number } => add(SelectorKind::Phone, number),
            Entity::Document { number, .. } => add(SelectorKind::Document, number),
            Entity::Vessel { imo: Some(imo), .. } => add(SelectorKind::Vessel, imo),
            Entity::Container { number } => add(SelectorKind::Container, number),
            Entity::CryptoWallet { address, .. } => add(SelectorKind::Wallet, address),
            Entity::Vehicle { vin, plate, .. } => {
                if let Some(v) = vin {
                    add(SelectorKind::Vehicle, v);
                }
                if let Some(p) = plate {
                    add(SelectorKind::Vehicle, p);
                }
            }
            Entity::Email { address } => add(SelectorKind::Email, address),
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The deconfliction key shared by the centres of a federation (32 bytes).
pub struct SelectorKey(hmac::Key);

impl SelectorKey {
    /// A key from its 32 bytes.
    pub fn new(bytes: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// The keyed hash of a selector.
    pub fn hash(&self, s: &Selector) -> SelectorHash {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(DOMAIN);
        ctx.update(s.kind.name().as_bytes());
        ctx.update(&[0]);
        ctx.update(s.value.as_bytes());
        let tag = ctx.sign();
        let mut hash = [0u8; 32];
        hash.copy_from_slice(tag.as_ref());
        SelectorHash { kind: s.kind, hash }
    }
}

/// A selector's keyed hash, with its kind in the clear (so a notice can say "a phone").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SelectorHash {
    /// What kind of selector.
    pub kind: SelectorKind,
    /// HMAC-SHA256 under the federation's deconfliction key.
    pub hash: [u8; 32],
}

/// A centre's submission to the deconfliction service: the keyed hashes of the selectors of
/// one of its messages (named by the header's `in_reply_to`; its case by the header's `case`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selectors {
    /// The hashes. Sorted, no duplicates.
    pub hashes: Vec<SelectorHash>,
}

impl Selectors {
    /// Checks count and order.
    pub fn validate(&self) -> Result<(), DecodeError> {
        crate::entity::limit("selectors", self.hashes.len(), MAX_SELECTORS)?;
        if self.hashes.is_empty() {
            return Err(DecodeError::InvalidField {
                field: "selectors",
                detail: "at least one selector".into(),
            });
        }
        if !crate::message::strictly_sorted(&self.hashes) {
            return Err(DecodeError::NonCanonical(
                "selectors (must be sorted, no duplicates)",
            ));
        }
        Ok(())
    }
}

/// The service's notice to one centre: its message `yours` (in case `your_case`) carries a
/// selector of kind `kind` that `other` also holds. Nothing of the other centre's message is
/// in it but who holds it and since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlap {
    /// What kind of selector matched.
    pub kind: SelectorKind,
    /// The recipient's own message that carried it.
    pub yours: MessageId,
    /// The recipient's case, if that message belonged to one.
    pub your_case: Option<CaseId>,
    /// The other centre's node.
    pub other: NodeId,
    /// When the service first saw the other centre's selector.
    pub other_since: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kz() -> PhoneContext {
        PhoneContext {
            country_code: Some("7".into()),
            trunk_prefix: Some("8".into()),
        }
    }

    #[test]
    fn phones_written_differently_normalise_alike() {
        let forms = [
            "+7 701 123 45 67",
            "+7 (701) 123-45-67",
            "0077011234567",
            "00 7 701 123 4567",
            "8 701 123 45 67",
            "+77011234567",
        ];
        for f in forms {
            assert_eq!(
                normalise_phone(f, &kz()).as_deref(),
                Some("+77011234567"),
                "{f}"
            );
        }
        // Without a national context, a national number cannot be read.
        assert_eq!(
            normalise_phone("8 701 123 45 67", &PhoneContext::default()),
            None
        );
        assert_eq!(normalise_phone("+7 701", &kz()), None);
        assert_eq!(normalise_phone("+7 70x 123 45 67", &kz()), None);
    }

    #[test]
    fn other_selectors_normalise() {
        let c = PhoneContext::default();
        assert_eq!(
            normalise(SelectorKind::Container, "mscu 123456-5", &c).as_deref(),
            Some("MSCU1234565")
        );
        assert_eq!(normalise(SelectorKind::Container, "MSCU12345", &c), None);
        assert_eq!(
            normalise(SelectorKind::Vessel, "IMO 9321483", &c).as_deref(),
            Some("9321483")
        );
        assert_eq!(
            normalise(SelectorKind::Document, "n 1234-567", &c).as_deref(),
            Some("N1234567")
        );
        assert_eq!(
            normalise(SelectorKind::Wallet, " 0xAbC123 ", &c).as_deref(),
            Some("0xabc123")
        );
        assert_eq!(
            normalise(
                SelectorKind::Wallet,
                "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
                &c
            )
            .as_deref(),
            Some("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
        );
    }

    #[test]
    fn hashes_match_only_under_the_same_key_and_kind() {
        let k1 = SelectorKey::new(&[1; 32]);
        let k2 = SelectorKey::new(&[2; 32]);
        let a = Selector {
            kind: SelectorKind::Phone,
            value: "+77011234567".into(),
        };
        let b = Selector {
            kind: SelectorKind::Document,
            value: "+77011234567".into(),
        };
        assert_eq!(k1.hash(&a), k1.hash(&a.clone()));
        assert_ne!(k1.hash(&a).hash, k2.hash(&a).hash);
        assert_ne!(k1.hash(&a).hash, k1.hash(&b).hash);
    }
}
