//! The console's languages: Fluent catalogues (`locales/<tag>.ftl`, compiled in), the choice
//! of a request's language, and locale-aware numbers and dates.
//!
//! Adding a language (French, Spanish and Chinese are next) is one `.ftl` file with every
//! message of `en.ftl` and one line in [`LOCALES`]; the unit test
//! `every_locale_has_every_message` fails until the file is complete. Direction (`rtl` for
//! Arabic), digits and the grouping separator are per locale; month names and the date
//! pattern are messages like any other, so translators own them.
//!
//! Choice, first match wins: `?lang=` (which the console also remembers in a cookie), the
//! `liaison_lang` cookie, `Accept-Language`, English.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// Writing direction of a language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Left to right.
    Ltr,
    /// Right to left (Arabic).
    Rtl,
}

impl Dir {
    /// The HTML `dir` attribute value.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Dir::Ltr => "ltr",
            Dir::Rtl => "rtl",
        }
    }
}

/// One language the console speaks: tag, name in itself, direction, digits, catalogue.
pub(crate) struct LocaleDef {
    /// BCP 47 tag, as in `lang=` and the `.ftl` file name.
    pub tag: &'static str,
    /// The language's name in itself, for the language switch.
    pub native: &'static str,
    /// Writing direction.
    pub dir: Dir,
    /// The ten digits numbers are written with.
    pub digits: [char; 10],
    /// Thousands separator.
    pub group: &'static str,
    /// The Fluent source.
    pub ftl: &'static str,
}

const LATIN: [char; 10] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const ARABIC_INDIC: [char; 10] = ['٠', '١', '٢', '٣', '٤', '٥', '٦', '٧', '٨', '٩'];

/// Every language, English first (the fallback for a message a catalogue lacks).
pub(crate) const LOCALES: &[LocaleDef] = &[
    LocaleDef {
        tag: "en",
        native: "English",
        dir: Dir::Ltr,
        digits: LATIN,
        group: ",",
        ftl: include_str!("locales/en.ftl"),
    },
    LocaleDef {
        tag: "ru",
        native: "Русский",
        dir: Dir::Ltr,
        digits: LATIN,
        // CLDR: a no-break space groups Russian thousands.
        group: "\u{a0}",
        ftl: include_str!("locales/ru.ftl"),
    },
    LocaleDef {
        tag: "ar",
        native: "العربية",
        dir: Dir::Rtl,
        digits: ARABIC_INDIC,
        group: "٬",
        ftl: include_str!("locales/ar.ftl"),
    },
];

/// A language ready to use: its definition and compiled catalogue.
pub(crate) struct Locale {
    /// What it is.
    pub def: &'static LocaleDef,
    bundle: FluentBundle<FluentResource>,
}

fn compile(def: &'static LocaleDef) -> Locale {
    let id: LanguageIdentifier = def.tag.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Placeables are not wrapped in Unicode isolates: the pages isolate user content
    // themselves (`<bdi>`, `dir="auto"`), and dates and numbers stay clean text.
    bundle.set_use_isolating(false);
    let res = FluentResource::try_new(def.ftl.to_owned()).unwrap_or_else(|(res, errors)| {
        tracing::error!(
            locale = def.tag,
            ?errors,
            "console: translation file has errors"
        );
        res
    });
    if let Err(errors) = bundle.add_resource(res) {
        tracing::error!(
            locale = def.tag,
            ?errors,
            "console: translation file has duplicates"
        );
    }
    Locale { def, bundle }
}

fn all() -> &'static [Locale] {
    static ALL: OnceLock<Vec<Locale>> = OnceLock::new();
    ALL.get_or_init(|| LOCALES.iter().map(compile).collect())
}

/// The locale with this tag, if the console speaks it.
pub(crate) fn by_tag(tag: &str) -> Option<&'static Locale> {
    let primary = tag
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    all().iter().find(|l| l.def.tag == primary)
}

/// English.
pub(crate) fn fallback() -> &'static Locale {
    &all()[0]
}

/// Every locale, in [`LOCALES`] order.
pub(crate) fn every() -> &'static [Locale] {
    all()
}

/// The first language of an `Accept-Language` value the console speaks, by quality.
pub(crate) fn from_accept_language(header: &str) -> Option<&'static Locale> {
    let mut tags: Vec<(f32, usize, &str)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut it = part.split(';');
            let tag = it.next()?.trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter().find_map(|(_, _, t)| by_tag(t))
}

/// A translation argument.
pub(crate) enum Arg<'a> {
    /// Text, inserted as is (the page escapes the whole translation).
    Str(&'a str),
    /// A count, for plural selection; written with the locale's digits.
    Num(u64),
}

impl Locale {
    /// The message `id` with no arguments.
    pub(crate) fn t(&self, id: &str) -> String {
        self.ta(id, &[])
    }

    /// The message `id` with arguments; English if this catalogue lacks it, else the id.
    pub(crate) fn ta(&self, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        match self.format(id, args) {
            Some(s) => s,
            None => {
                tracing::debug!(locale = self.def.tag, id, "console: message missing");
                fallback().format(id, args).unwrap_or_else(|| id.to_owned())
            }
        }
    }

    /// Whether this catalogue (not the fallback) has `id`.
    pub(crate) fn has(&self, id: &str) -> bool {
        self.bundle
            .get_message(id)
            .is_some_and(|m| m.value().is_some())
    }

    /// The first of `ids` this catalogue or English has, translated.
    pub(crate) fn t_or(&self, id: &str, otherwise: &str) -> String {
        if self.has(id) || fallback().has(id) {
            self.t(id)
        } else {
            otherwise.to_owned()
        }
    }

    fn format(&self, id: &str, args: &[(&str, Arg<'_>)]) -> Option<String> {
        let msg = self.bundle.get_message(id)?;
        let pattern = msg.value()?;
        let mut fa = FluentArgs::new();
        let mut numbers = Vec::new();
        for (k, v) in args {
            match v {
                Arg::Str(s) => fa.set(*k, FluentValue::from(*s)),
                Arg::Num(n) => {
                    // The plural category comes from the number, the text from `num`.
                    fa.set(format!("{k}-count"), FluentValue::from(*n as f64));
                    numbers.push((*k, self.num(*n)));
                }
            }
        }
        for (k, s) in numbers {
            fa.set(k, FluentValue::from(s));
        }
        let mut errors = vec![];
        let out = self.bundle.format_pattern(pattern, Some(&fa), &mut errors);
        if !errors.is_empty() {
            tracing::debug!(
                locale = self.def.tag,
                id,
                ?errors,
                "console: message formatting"
            );
        }
        Some(out.into_owned())
    }

    /// A whole number with this locale's digits and grouping (`12,345`, `12 345`, `١٢٬٣٤٥`).
    pub(crate) fn num(&self, n: u64) -> String {
        let plain = n.to_string();
        let mut out = String::new();
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && (plain.len() - i).is_multiple_of(3) {
                out.push_str(self.def.group);
            }
            out.push(self.digits(c));
        }
        out
    }

    fn digits(&self, c: char) -> char {
        c.to_digit(10).map_or(c, |d| self.def.digits[d as usize])
    }

    /// Digits of `s` in this locale's script (identifiers are not passed here).
    fn localise_digits(&self, s: &str) -> String {
        s.chars().map(|c| self.digits(c)).collect()
    }

    /// An RFC 3339 time as this locale writes a date and time (UTC, as the log records it);
    /// the input as is if it does not parse.
    pub(crate) fn datetime(&self, rfc3339: &str) -> String {
        let Ok(t) =
            time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        else {
            return rfc3339.to_owned();
        };
        let t = t.to_offset(time::UtcOffset::UTC);
        let two = |n: u8| self.localise_digits(&format!("{n:02}"));
        let month = self.t(&format!("month-{}", u8::from(t.month())));
        self.ta(
            "datetime",
            &[
                ("day", Arg::Str(&self.localise_digits(&t.day().to_string()))),
                ("month", Arg::Str(&month)),
                (
                    "year",
                    Arg::Str(&self.localise_digits(&t.year().to_string())),
                ),
                ("hour", Arg::Str(&two(t.hour()))),
                ("minute", Arg::Str(&two(t.minute()))),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message ids of a catalogue (lines `id = …` at the start of a line).
    fn ids(ftl: &str) -> Vec<String> {
        ftl.lines()
            .filter_map(|l| {
                let (id, _) = l.split_once(" =")?;
                (id.chars().next()?.is_ascii_lowercase()
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
                .then(|| id.to_owned())
            })
            .collect()
    }

    #[test]
    fn every_locale_has_every_message() {
        let en = ids(LOCALES[0].ftl);
        assert!(en.len() > 100, "{}", en.len());
        for def in LOCALES {
            let have = ids(def.ftl);
            let missing: Vec<_> = en.iter().filter(|id| !have.contains(id)).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", def.tag);
            let extra: Vec<_> = have.iter().filter(|id| !en.contains(id)).collect();
            assert!(extra.is_empty(), "{} has unknown {extra:?}", def.tag);
        }
    }

    /// Every message id the pages name literally (`t("…")`, `ta("…"`, `t_or("…"`) is in the
    /// English catalogue (and so, by the test above, in every catalogue).
    #[test]
    fn every_message_the_pages_use_exists() {
        let en = ids(LOCALES[0].ftl);
        let sources = [
            include_str!("mod.rs"),
            include_str!("pages.rs"),
            include_str!("compose.rs"),
            include_str!("audit.rs"),
            include_str!("html.rs"),
            include_str!("cases.rs"),
            include_str!("case_actions.rs"),
        ];
        let mut missing = Vec::new();
        for src in sources {
            for call in ["t(\"", "ta(\"", "ta(\n"] {
                for (i, _) in src.match_indices(call) {
                    let rest = src[i + call.len()..].trim_start().trim_start_matches('"');
                    let id: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    if id.len() > 2 && id.contains('-') && !en.contains(&id) {
                        missing.push(id);
                    }
                }
            }
        }
        // Ids built at run time (`kind-…`, `error-…`) fall back to the raw value or a
        // generic message; the catalogues list the known ones.
        assert!(missing.is_empty(), "not in en.ftl: {missing:?}");
    }

    #[test]
    fn numbers_and_dates_are_localised() {
        let (en, ru, ar) = (
            by_tag("en").unwrap(),
            by_tag("ru").unwrap(),
            by_tag("ar").unwrap(),
        );
        assert_eq!(en.num(1234567), "1,234,567");
        assert_eq!(ru.num(1234567), "1\u{a0}234\u{a0}567");
        assert_eq!(ar.num(12345), "١٢٬٣٤٥");
        assert_eq!(en.num(12), "12");
        let t = "2026-11-29T14:05:09Z";
        assert_eq!(en.datetime(t), "29 Nov 2026, 14:05 UTC");
        assert_eq!(ru.datetime(t), "29 нояб. 2026, 14:05 UTC");
        assert_eq!(ar.datetime(t), "٢٩ نوفمبر ٢٠٢٦، ١٤:٠٥ UTC");
    }

    #[test]
    fn plurals_follow_the_language() {
        let ru = by_tag("ru").unwrap();
        assert_eq!(ru.ta("inbox-count", &[("n", Arg::Num(1))]), "1 сообщение");
        assert_eq!(ru.ta("inbox-count", &[("n", Arg::Num(3))]), "3 сообщения");
        assert_eq!(ru.ta("inbox-count", &[("n", Arg::Num(5))]), "5 сообщений");
        let en = by_tag("en").unwrap();
        assert_eq!(en.ta("inbox-count", &[("n", Arg::Num(1))]), "1 message");
        assert_eq!(
            en.ta("inbox-count", &[("n", Arg::Num(1200))]),
            "1,200 messages"
        );
    }

    #[test]
    fn language_is_negotiated() {
        assert_eq!(
            from_accept_language("ar-OM,en;q=0.8").unwrap().def.tag,
            "ar"
        );
        assert_eq!(
            from_accept_language("de;q=1, ru;q=0.5, en;q=0.7")
                .unwrap()
                .def
                .tag,
            "en"
        );
        assert!(from_accept_language("de, fr").is_none());
        assert_eq!(by_tag("ru-KZ").unwrap().def.dir, Dir::Ltr);
        assert_eq!(by_tag("ar").unwrap().def.dir, Dir::Rtl);
    }
}
