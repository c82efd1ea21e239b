//! Small HTML helpers: form and query data, badges, times. Pages are maud templates, which
//! escape every value they interpolate; these helpers are pieces of them.

use maud::{html, Markup};

use super::i18n::Locale;

/// User-supplied text isolated from the surrounding direction (`<bdi>`).
pub(crate) fn bdi(s: &str) -> Markup {
    html! { bdi { (s) } }
}

/// Node ids (or any user-supplied names) as a comma-separated list, each isolated.
pub(crate) fn bdi_list<S: AsRef<str>>(list: &[S]) -> Markup {
    html! {
        @for (i, n) in list.iter().enumerate() {
            @if i > 0 { ", " }
            (bdi(n.as_ref()))
        }
    }
}

/// A time: machine-readable attribute, localised text.
pub(crate) fn time(l: &Locale, rfc3339: &str) -> Markup {
    html! { time datetime=(rfc3339) { (l.datetime(rfc3339)) } }
}

/// `application/x-www-form-urlencoded` pairs (a form body or a query), in order; a key may
/// repeat (checkbox groups).
#[derive(Clone, Debug, Default)]
pub(crate) struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// Parses urlencoded bytes; malformed input gives no pairs.
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        Self(serde_urlencoded::from_bytes(bytes).unwrap_or_default())
    }

    /// The first value of `key`, trimmed; `None` if absent or blank.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-blank value of `key`.
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The first value of `key` as typed (not trimmed: text areas), browsers' CRLF line
    /// ends made plain; empty if absent.
    pub(crate) fn text(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.replace("\r\n", "\n"))
            .unwrap_or_default()
    }

    /// Whether a checkbox `key` was ticked.
    pub(crate) fn checked(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The pairs as a query string (without `?`), leaving out `skip`.
    pub(crate) fn query_without(&self, skip: &str) -> String {
        let kept: Vec<&(String, String)> = self.0.iter().filter(|(k, _)| k != skip).collect();
        serde_urlencoded::to_string(kept).unwrap_or_default()
    }
}

/// The CSS class of a TLP label (`TLP:AMBER+STRICT` → `tlp-amber-strict`).
pub(super) fn tlp_class(label: &str) -> &'static str {
    match label {
        "TLP:RED" => "tlp-red",
        "TLP:AMBER+STRICT" => "tlp-amber-strict",
        "TLP:AMBER" => "tlp-amber",
        "TLP:GREEN" => "tlp-green",
        _ => "tlp-clear",
    }
}

/// A TLP badge: the label itself is never translated (TLP 2.0 says so), its meaning is.
pub(crate) fn tlp_badge(l: &Locale, label: &str) -> Markup {
    let key = format!(
        "tlp-meaning-{}",
        tlp_class(label).trim_start_matches("tlp-")
    );
    html! { span class={ "tlp " (tlp_class(label)) } title=(l.t(&key)) { (label) } }
}

/// A hidden CSRF field.
pub(super) fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// `<option>`s from (value, label) pairs, `selected` marked.
pub(crate) fn options(items: &[(String, String)], selected: Option<&str>) -> Markup {
    html! {
        @for (v, label) in items {
            option value=(v) selected[Some(v.as_str()) == selected] { (label) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_escape_markup_and_quotes() {
        assert_eq!(bdi("عمان <b>").into_string(), "<bdi>عمان &lt;b&gt;</bdi>");
        assert_eq!(
            csrf_field("\"><script>").into_string(),
            "<input type=\"hidden\" name=\"csrf\" value=\"&quot;&gt;&lt;script&gt;\">"
        );
    }

    #[test]
    fn forms_keep_repeated_keys_and_drop_blanks() {
        let f = FormData::parse(b"to=a.b&to=network%3Agulf&to=&tlp=AMBER&csrf=x&lang=ar");
        assert_eq!(f.all("to"), vec!["a.b", "network:gulf"]);
        assert_eq!(f.get("tlp"), Some("AMBER"));
        assert_eq!(f.get("missing"), None);
        assert!(!f.query_without("lang").contains("lang"));
    }
}
