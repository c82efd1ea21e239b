//! Payload content: free text with its language, structured entities, small attachments.
//!
//! Entities are what intelligence messages actually carry (people, documents, phones,
//! vessels, containers, wallets…). Every string is Unicode and stored exactly as written:
//! names in Arabic, Cyrillic or Chinese round-trip byte for byte. Each entity maps to a
//! STIX 2.1 object (see [`crate::stix`]).

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::ids::{CountryCode, LanguageTag, Timestamp};
use crate::limits::*;

/// The readable content of a message: text in a stated language, entities, attachments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Language of `text` (BCP 47).
    pub language: LanguageTag,
    /// Free text, as written by the officer.
    pub text: String,
    /// Structured entities the message is about.
    pub entities: Vec<Entity>,
    /// Small attached files.
    pub attachments: Vec<Attachment>,
}

impl Payload {
    /// A payload with only text.
    pub fn text(language: LanguageTag, text: impl Into<String>) -> Self {
        Self {
            language,
            text: text.into(),
            entities: Vec::new(),
            attachments: Vec::new(),
        }
    }

    /// Checks counts and sizes against [`crate::limits`].
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        limit("payload text", self.text.len(), MAX_TEXT_BYTES)?;
        limit("entities", self.entities.len(), MAX_ENTITIES)?;
        limit("attachments", self.attachments.len(), MAX_ATTACHMENTS)?;
        for a in &self.attachments {
            limit("attachment content", a.content.len(), MAX_ATTACHMENT_BYTES)?;
            limit("attachment name", a.name.len(), MAX_SHORT_STRING)?;
            limit(
                "attachment media type",
                a.media_type.len(),
                MAX_SHORT_STRING,
            )?;
        }
        for e in &self.entities {
            e.check_limits()?;
        }
        Ok(())
    }
}

pub(crate) use crate::limits::check as limit;

fn short(field: &'static str, s: &str) -> Result<(), DecodeError> {
    limit(field, s.len(), MAX_SHORT_STRING)
}

fn short_opt(field: &'static str, s: &Option<String>) -> Result<(), DecodeError> {
    s.as_deref().map_or(Ok(()), |s| short(field, s))
}

/// A date that may be known only to the year or month (common for dates of birth).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialDate {
    /// Year (Gregorian).
    pub year: u16,
    /// Month 1–12, if known.
    pub month: Option<u8>,
    /// Day 1–31, if known (only with a month).
    pub day: Option<u8>,
}

impl PartialDate {
    /// ISO 8601 form: `1984`, `1984-03` or `1984-03-07`.
    pub fn to_iso(&self) -> String {
        match (self.month, self.day) {
            (Some(m), Some(d)) => format!("{:04}-{m:02}-{d:02}", self.year),
            (Some(m), None) => format!("{:04}-{m:02}", self.year),
            _ => format!("{:04}", self.year),
        }
    }

    fn check(&self) -> Result<(), DecodeError> {
        let leap = self.year.is_multiple_of(4)
            && (!self.year.is_multiple_of(100) || self.year.is_multiple_of(400));
        let days_in = |m: u8| match m {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let ok = (1..=9999).contains(&self.year)
            && match (self.month, self.day) {
                (None, None) => true,
                (Some(m), None) => (1..=12).contains(&m),
                (Some(m), Some(d)) => (1..=12).contains(&m) && (1..=days_in(m)).contains(&d),
                (None, Some(_)) => false,
            };
        if ok {
            Ok(())
        } else {
            Err(DecodeError::InvalidField {
                field: "date",
                detail: format!("{self:?} is not a valid (partial) date"),
            })
        }
    }
}

/// One name of a person or organisation, with the script/language it is written in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Name {
    /// The name exactly as written (any script).
    pub value: String,
    /// Language/script of the name (e.g. `ar`, `ru`, `kk-Latn`), if stated.
    pub language: Option<LanguageTag>,
}

/// Kind of identity document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocumentKind {
    /// Passport.
    Passport,
    /// National identity card.
    IdentityCard,
    /// Driving licence.
    DrivingLicence,
    /// Residence or visa document.
    ResidencePermit,
    /// Any other document, named.
    Other(String),
}

/// A structured entity carried by a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entity {
    /// A natural person.
    Person {
        /// Names and transliterations, in any script.
        names: Vec<Name>,
        /// Date of birth, possibly partial.
        date_of_birth: Option<PartialDate>,
        /// Nationalities.
        nationalities: Vec<CountryCode>,
    },
    /// A company, group or other organisation.
    Organisation {
        /// Names, in any script.
        names: Vec<Name>,
        /// Country of registration or operation.
        country: Option<CountryCode>,
    },
    /// An identity or travel document.
    Document {
        /// Kind of document.
        kind: DocumentKind,
        /// Number as printed.
        number: String,
        /// Issuing country.
        issuer: Option<CountryCode>,
    },
    /// A telephone number, as written (E.164 preferred).
    Phone {
        /// The number.
        number: String,
    },
    /// An e-mail address.
    Email {
        /// The address.
        address: String,
    },
    /// A road vehicle.
    Vehicle {
        /// Registration plate.
        plate: Option<String>,
        /// Vehicle identification number.
        vin: Option<String>,
        /// Registration country.
        country: Option<CountryCode>,
        /// Make, model, colour.
        description: Option<String>,
    },
    /// A ship.
    Vessel {
        /// Vessel name.
        name: Option<String>,
        /// IMO number.
        imo: Option<String>,
        /// MMSI.
        mmsi: Option<String>,
        /// Flag state.
        flag: Option<CountryCode>,
    },
    /// A shipping container (ISO 6346 number).
    Container {
        /// Container number, e.g. `MSCU1234565`.
        number: String,
    },
    /// A flight.
    Flight {
        /// Flight designator, e.g. `KC 901`.
        number: String,
        /// Scheduled date.
        date: Option<PartialDate>,
        /// Origin airport (IATA).
        from: Option<String>,
        /// Destination airport (IATA).
        to: Option<String>,
    },
    /// A cryptocurrency wallet.
    CryptoWallet {
        /// Currency or chain, e.g. `BTC`, `USDT-TRC20`.
        currency: String,
        /// Address.
        address: String,
    },
    /// A place.
    Location {
        /// Name of the place, in any script.
        name: Option<String>,
        /// Latitude in micro-degrees (integer, so encoding is exact).
        latitude_micro: Option<i32>,
        /// Longitude in micro-degrees.
        longitude_micro: Option<i32>,
        /// Country.
        country: Option<CountryCode>,
    },
    /// A statement about when something was observed or is expected.
    Event {
        /// What happens.
        description: String,
        /// When.
        at: Option<Timestamp>,
    },
}

impl Entity {
    /// Short lower-case name of the entity type, as used by the CLI (`--entity phone=…`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Entity::Person { .. } => "person",
            Entity::Organisation { .. } => "organisation",
            Entity::Document { .. } => "document",
            Entity::Phone { .. } => "phone",
            Entity::Email { .. } => "email",
            Entity::Vehicle { .. } => "vehicle",
            Entity::Vessel { .. } => "vessel",
            Entity::Container { .. } => "container",
            Entity::Flight { .. } => "flight",
            Entity::CryptoWallet { .. } => "wallet",
            Entity::Location { .. } => "location",
            Entity::Event { .. } => "event",
        }
    }

    fn check_limits(&self) -> Result<(), DecodeError> {
        let names = |names: &[Name]| -> Result<(), DecodeError> {
            limit("names", names.len(), MAX_NAMES)?;
            if names.is_empty() {
                return Err(DecodeError::InvalidField {
                    field: "names",
                    detail: "a person or organisation needs at least one name".into(),
                });
            }
            names.iter().try_for_each(|n| short("name", &n.value))
        };
        match self {
            Entity::Person {
                names: n,
                date_of_birth,
                nationalities,
            } => {
                names(n)?;
                limit("nationalities", nationalities.len(), MAX_NATIONALITIES)?;
                date_of_birth.as_ref().map_or(Ok(()), PartialDate::check)
            }
            Entity::Organisation { names: n, .. } => names(n),
            Entity::Document { kind, number, .. } => {
                if let DocumentKind::Other(k) = kind {
                    short("document kind", k)?;
                }
                short("document number", number)
            }
            Entity::Phone { number } => short("phone", number),
            Entity::Email { address } => short("email", address),
            Entity::Vehicle {
                plate,
                vin,
                description,
                ..
            } => {
                short_opt("plate", plate)?;
                short_opt("vin", vin)?;
                short_opt("vehicle description", description)
            }
            Entity::Vessel {
                name, imo, mmsi, ..
            } => {
                short_opt("vessel name", name)?;
                short_opt("imo", imo)?;
                short_opt("mmsi", mmsi)
            }
            Entity::Container { number } => short("container", number),
            Entity::Flight {
                number,
                date,
                from,
                to,
            } => {
                short("flight", number)?;
                short_opt("flight from", from)?;
                short_opt("flight to", to)?;
                date.as_ref().map_or(Ok(()), PartialDate::check)
            }
            Entity::CryptoWallet { currency, address } => {
                short("wallet currency", currency)?;
                short("wallet address", address)
            }
            Entity::Location {
                name,
                latitude_micro,
                longitude_micro,
                ..
            } => {
                short_opt("location name", name)?;
                if latitude_micro.is_some_and(|v| !(-90_000_000..=90_000_000).contains(&v))
                    || longitude_micro.is_some_and(|v| !(-180_000_000..=180_000_000).contains(&v))
                {
                    return Err(DecodeError::InvalidField {
                        field: "location",
                        detail: "latitude/longitude out of range".into(),
                    });
                }
                Ok(())
            }
            Entity::Event { description, at } => {
                if let Some(at) = at {
                    at.check()?;
                }
                short("event", description)
            }
        }
    }
}

/// A small attached file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name as given.
    pub name: String,
    /// IANA media type, e.g. `image/jpeg`.
    pub media_type: String,
    /// The bytes (at most [`MAX_ATTACHMENT_BYTES`]).
    pub content: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print content: it may be a photo of a passport.
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("media_type", &self.media_type)
            .field("len", &self.content.len())
            .finish()
    }
}
