//! Retention rules: which message bodies may be purged, and when.

use serde::Deserialize;

/// One retention rule.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// Name written into each purge log entry (e.g. `routine-1y`).
    pub name: String,
    /// Message kinds it covers (`alert`, `request`, …); empty: every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// TLP levels it covers (`CLEAR`, `GREEN`, `AMBER`, `AMBER+STRICT`, `RED`); empty: every level.
    #[serde(default)]
    pub tlp: Vec<String>,
    /// Days after the node logged a message that its body may be purged.
    pub after_days: u32,
}

impl RetentionRule {
    /// Whether the rule covers a message of this kind and TLP label (`TLP:AMBER`).
    pub fn covers(&self, kind: &str, tlp_label: &str) -> bool {
        let level = tlp_label.strip_prefix("TLP:").unwrap_or(tlp_label);
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
            && (self.tlp.is_empty() || self.tlp.iter().any(|t| t.eq_ignore_ascii_case(level)))
    }
}
