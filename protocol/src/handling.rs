//! Handling rules: the TLP 2.0 level, EU handling codes, releasability and the 4x4
//! evaluation that travel with every message, and the pure checks that decide whether a
//! message may take a proposed hop.
//!
//! The rules, applied by the originator before sending and by every relay before forwarding:
//!
//! | rule | applies to | refusal |
//! |---|---|---|
//! | hop limit | route so far + 1 > hop limit | `hop-limit-exceeded` |
//! | expiry | `now` past the message's expiry | `message-expired` |
//! | loop | next hop already on the route, or is the originator | `route-loop` |
//! | releasability | next hop **and** destination must each be a released network, centre or node | `releasability-violation` |
//! | TLP:RED | next hop, and every relay it passed, must be a named recipient node | `tlp-red-violation` |
//! | TLP:AMBER+STRICT | next hop's centre must be a named recipient's centre | `tlp-amber-strict-violation` |
//! | originator control (H2) | destination must be an original recipient, or covered by a consent grant | `originator-control` |
//!
//! TLP:AMBER, GREEN and CLEAR add no rule beyond releasability: releasability is the
//! originator's signed statement of who may receive the message, and it binds at every TLP.

use serde::{Deserialize, Serialize};

use crate::error::HandlingError;
use crate::ids::{CentreId, NetworkId, NodeId, Timestamp};

/// Traffic Light Protocol 2.0 level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tlp {
    /// TLP:CLEAR — no limit on disclosure.
    Clear,
    /// TLP:GREEN — the community, not public.
    Green,
    /// TLP:AMBER — the recipients' organisations and their clients, need to know.
    Amber,
    /// TLP:AMBER+STRICT — the recipients' organisations only.
    AmberStrict,
    /// TLP:RED — the named recipients only.
    Red,
}

impl Tlp {
    /// The canonical label, e.g. `TLP:AMBER+STRICT`.
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }
}

impl std::str::FromStr for Tlp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let up = s.trim().to_ascii_uppercase();
        let bare = up.strip_prefix("TLP:").unwrap_or(&up);
        match bare {
            "CLEAR" | "WHITE" => Ok(Tlp::Clear),
            "GREEN" => Ok(Tlp::Green),
            "AMBER" => Ok(Tlp::Amber),
            "AMBER+STRICT" | "AMBER-STRICT" | "AMBER_STRICT" => Ok(Tlp::AmberStrict),
            "RED" => Ok(Tlp::Red),
            _ => Err(format!(
                "{s:?} is not a TLP level (CLEAR, GREEN, AMBER, AMBER+STRICT, RED)"
            )),
        }
    }
}

/// Source reliability of the 4x4 evaluation (Europol Regulation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SourceReliability {
    /// A: no doubt about authenticity, trustworthiness and competence; or always reliable.
    A,
    /// B: the source has in most instances proved reliable.
    B,
    /// C: the source has in most instances proved unreliable.
    C,
    /// X: reliability cannot be assessed.
    X,
}

/// Information reliability of the 4x4 evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InformationReliability {
    /// 1: no doubt about its accuracy.
    Known,
    /// 2: known personally to the source but not to the official passing it on.
    KnownToSource,
    /// 3: not known personally to the source but corroborated.
    Corroborated,
    /// 4: not known personally to the source and cannot be corroborated.
    Uncorroborated,
}

/// The 4x4 evaluation, written like `B2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Evaluation {
    /// Source reliability.
    pub source: SourceReliability,
    /// Information reliability.
    pub information: InformationReliability,
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self.source {
            SourceReliability::A => 'A',
            SourceReliability::B => 'B',
            SourceReliability::C => 'C',
            SourceReliability::X => 'X',
        };
        let i = match self.information {
            InformationReliability::Known => '1',
            InformationReliability::KnownToSource => '2',
            InformationReliability::Corroborated => '3',
            InformationReliability::Uncorroborated => '4',
        };
        write!(f, "{s}{i}")
    }
}

impl std::str::FromStr for Evaluation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let b = s.trim().as_bytes();
        let err =
            || format!("{s:?} is not a 4x4 evaluation (source A/B/C/X, information 1-4, e.g. B2)");
        if b.len() != 2 {
            return Err(err());
        }
        let source = match b[0].to_ascii_uppercase() {
            b'A' => SourceReliability::A,
            b'B' => SourceReliability::B,
            b'C' => SourceReliability::C,
            b'X' => SourceReliability::X,
            _ => return Err(err()),
        };
        let information = match b[1] {
            b'1' => InformationReliability::Known,
            b'2' => InformationReliability::KnownToSource,
            b'3' => InformationReliability::Corroborated,
            b'4' => InformationReliability::Uncorroborated,
            _ => return Err(err()),
        };
        Ok(Self {
            source,
            information,
        })
    }
}

/// Who may receive a message: a whole network, every node of a centre, or one node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Release {
    /// Every node of the network.
    Network(NetworkId),
    /// Every node of the centre, in whatever network.
    Centre(CentreId),
    /// One node.
    Node(NodeId),
}

impl Release {
    /// Whether this entry releases the message to `node`.
    pub fn covers(&self, node: &NodeId) -> bool {
        match self {
            Release::Network(n) => node.network_str() == n.as_str(),
            Release::Centre(c) => node.centre_str() == c.as_str(),
            Release::Node(n) => n == node,
        }
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Release::Network(n) => write!(f, "network:{n}"),
            Release::Centre(c) => write!(f, "centre:{c}"),
            Release::Node(n) => write!(f, "{n}"),
        }
    }
}

impl std::str::FromStr for Release {
    type Err = String;
    /// `network:gulf`, `centre:caricc`, or a node id `caricc.central-asia`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(n) = s.strip_prefix("network:") {
            n.parse().map(Release::Network).map_err(|e| e.to_string())
        } else if let Some(c) = s.strip_prefix("centre:") {
            c.parse().map(Release::Centre).map_err(|e| e.to_string())
        } else {
            s.parse().map(Release::Node).map_err(|e| e.to_string())
        }
    }
}

/// The handling block present on every message, signed by the originator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handling {
    /// TLP 2.0 level.
    pub tlp: Tlp,
    /// Who may receive the message (networks, centres, nodes). Sorted and deduplicated.
    pub releasability: Vec<Release>,
    /// Originator control, the third-party rule (EU H2): no onward sharing without consent.
    pub originator_control: bool,
    /// EU H0: use only to prevent and combat crime.
    pub h0_crime_only: bool,
    /// EU H1: not for judicial proceedings without the provider's permission.
    pub h1_no_judicial_use: bool,
    /// EU H3: other restrictions, free text.
    pub h3_restrictions: Option<String>,
    /// 4x4 evaluation of source and information.
    pub evaluation: Evaluation,
}

impl Handling {
    /// Whether the releasability list covers `node`.
    pub fn releases_to(&self, node: &NodeId) -> bool {
        self.releasability.iter().any(|r| r.covers(node))
    }

    /// The EU handling codes in force, e.g. `["H0", "H2"]`.
    pub fn eu_codes(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.h0_crime_only {
            v.push("H0");
        }
        if self.h1_no_judicial_use {
            v.push("H1");
        }
        if self.originator_control {
            v.push("H2");
        }
        if self.h3_restrictions.is_some() {
            v.push("H3");
        }
        v
    }
}

/// A message's addressee: one node, or every node of a network.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Recipient {
    /// One node.
    Node(NodeId),
    /// Every node of a network (fanned out by the gateway that enters it).
    Network(NetworkId),
}

impl Recipient {
    /// Whether `node` is this recipient or belongs to it.
    pub fn includes(&self, node: &NodeId) -> bool {
        match self {
            Recipient::Node(n) => n == node,
            Recipient::Network(net) => node.network_str() == net.as_str(),
        }
    }
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipient::Node(n) => write!(f, "{n}"),
            Recipient::Network(n) => write!(f, "network:{n}"),
        }
    }
}

impl std::str::FromStr for Recipient {
    type Err = String;
    /// `network:gulf` or a node id.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(n) = s.strip_prefix("network:") {
            n.parse().map(Recipient::Network).map_err(|e| e.to_string())
        } else {
            s.parse().map(Recipient::Node).map_err(|e| e.to_string())
        }
    }
}

/// The facts about a proposed hop that the checks need; the caller supplies time and route.
#[derive(Clone, Debug)]
pub struct Hop<'a> {
    /// The node the message would be sent to next.
    pub next: &'a NodeId,
    /// The node this copy is ultimately for (equal to `next` on a direct delivery).
    pub destination: &'a NodeId,
    /// Relays the message has already passed, in order (not counting the originator).
    pub route: &'a [NodeId],
    /// Current time, for expiry.
    pub now: Timestamp,
    /// Destinations the originator has consented to beyond the original recipients
    /// (from verified consent grants for this message).
    pub consented: &'a [NodeId],
}

/// The parts of a signed header the handling checks read.
#[derive(Clone, Copy, Debug)]
pub struct Addressing<'a> {
    /// Originating node.
    pub originator: &'a NodeId,
    /// Named recipients.
    pub recipients: &'a [Recipient],
    /// Handling block.
    pub handling: &'a Handling,
    /// Hop limit set by the originator.
    pub hop_limit: u8,
    /// Expiry set by the originator.
    pub expires_at: Option<Timestamp>,
}

/// Checks that a message as composed is self-consistent, before it is signed and sent:
/// every recipient is within releasability, RED and AMBER+STRICT name nodes (not whole
/// networks), and there is at least one recipient.
pub fn check_composition(a: &Addressing<'_>) -> Result<(), HandlingError> {
    if a.recipients.is_empty() {
        return Err(HandlingError::Invalid(
            "a message needs at least one recipient".into(),
        ));
    }
    if a.handling.releasability.is_empty() {
        return Err(HandlingError::Invalid(
            "releasability may not be empty: name the networks, centres or nodes that may receive it".into(),
        ));
    }
    if a.hop_limit == 0 || a.hop_limit > crate::limits::MAX_HOP_LIMIT {
        return Err(HandlingError::Invalid(format!(
            "hop limit must be 1 to {}",
            crate::limits::MAX_HOP_LIMIT
        )));
    }
    for r in a.recipients {
        match r {
            Recipient::Node(n) => {
                if !a.handling.releases_to(n) {
                    return Err(HandlingError::Invalid(format!(
                        "recipient {n} is outside the releasability list"
                    )));
                }
            }
            Recipient::Network(net) => {
                if matches!(a.handling.tlp, Tlp::Red | Tlp::AmberStrict) {
                    return Err(HandlingError::Invalid(format!(
                        "{} must name recipient nodes, not network:{net}",
                        a.handling.tlp.label()
                    )));
                }
                let covered = a.handling.releasability.iter().any(|rel| match rel {
                    Release::Network(n) => n == net,
                    _ => false,
                });
                if !covered {
                    return Err(HandlingError::Invalid(format!(
                        "recipient network:{net} is not released as a whole network"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Decides whether a message may take the proposed hop. Pure: same inputs, same answer.
///
/// Run by the originator before the first hop and by every relay before forwarding; see the
/// module documentation for the rule table.
pub fn check_hop(a: &Addressing<'_>, hop: &Hop<'_>) -> Result<(), HandlingError> {
    check(a, hop.next, Toward::Node(hop.destination), hop)
}

/// As [`check_hop`] for a copy addressed to a whole network (`Recipient::Network`) that
/// travels through `hop.next` towards it; `hop.destination` is not read. The network must be
/// a named recipient and released as a whole; each node in it is checked again, as a
/// destination, by the gateway that fans the message out.
pub fn check_network_hop(
    a: &Addressing<'_>,
    hop: &Hop<'_>,
    network: &NetworkId,
) -> Result<(), HandlingError> {
    check(a, hop.next, Toward::Network(network), hop)
}

/// What a copy of a message is ultimately for.
enum Toward<'a> {
    Node(&'a NodeId),
    Network(&'a NetworkId),
}

fn check(
    a: &Addressing<'_>,
    next: &NodeId,
    toward: Toward<'_>,
    hop: &Hop<'_>,
) -> Result<(), HandlingError> {
    if hop.route.len() + 1 > usize::from(a.hop_limit) {
        return Err(HandlingError::HopLimitExceeded(a.hop_limit));
    }
    if a.expires_at.is_some_and(|e| hop.now >= e) {
        return Err(HandlingError::Expired);
    }
    if next == a.originator || hop.route.contains(next) {
        return Err(HandlingError::RouteLoop(next.to_string()));
    }
    let named = |n: &NodeId| a.recipients.iter().any(|r| r.includes(n));
    let consented = |n: &NodeId| hop.consented.contains(n);
    let released = |n: &NodeId| a.handling.releases_to(n) || consented(n);

    if !released(next) {
        return Err(HandlingError::ReleasabilityViolation {
            node: next.to_string(),
        });
    }
    match toward {
        Toward::Node(d) if !released(d) => {
            return Err(HandlingError::ReleasabilityViolation {
                node: d.to_string(),
            })
        }
        Toward::Network(net)
            if !a
                .handling
                .releasability
                .iter()
                .any(|r| matches!(r, Release::Network(n) if n == net)) =>
        {
            return Err(HandlingError::ReleasabilityViolation {
                node: format!("network:{net}"),
            })
        }
        _ => {}
    }
    match a.handling.tlp {
        Tlp::Red => {
            // Every node it passes, and the next, is a named recipient node (or one the
            // originator consented to): a relay that is not named refuses to pass it on,
            // whoever handed it over.
            let named_node = |n: &NodeId| {
                consented(n)
                    || a.recipients
                        .iter()
                        .any(|r| matches!(r, Recipient::Node(x) if x == n))
            };
            if let Some(n) = hop
                .route
                .iter()
                .chain(std::iter::once(next))
                .find(|n| !named_node(n))
            {
                return Err(HandlingError::TlpRedViolation {
                    node: n.to_string(),
                });
            }
        }
        Tlp::AmberStrict => {
            let same_org = a.recipients.iter().any(|r| match r {
                Recipient::Node(n) => n.centre_str() == next.centre_str(),
                Recipient::Network(_) => false,
            }) || hop
                .consented
                .iter()
                .any(|n| n.centre_str() == next.centre_str());
            if !same_org {
                return Err(HandlingError::TlpAmberStrictViolation {
                    node: next.to_string(),
                });
            }
        }
        Tlp::Amber | Tlp::Green | Tlp::Clear => {}
    }
    if a.handling.originator_control {
        let ok = match toward {
            Toward::Node(d) => named(d) || consented(d),
            Toward::Network(net) => a
                .recipients
                .iter()
                .any(|r| matches!(r, Recipient::Network(n) if n == net)),
        };
        if !ok {
            return Err(HandlingError::OriginatorControl {
                node: match toward {
                    Toward::Node(d) => d.to_string(),
                    Toward::Network(net) => format!("network:{net}"),
                },
            });
        }
    }
    Ok(())
}
