//! Handling-rule table: every TLP level × releasability × originator control × hop kind.
//!
//! The hops, for a message from `kz-dcu.central-asia` to `om-dcu.gulf`:
//! * `direct`: straight to the recipient;
//! * `gateway-same-network`: to `caricc.central-asia`, a relay inside the sender's network;
//! * `gateway-other-network`: to `gcc-cic.gulf`, a relay inside the recipient's network;
//! * `recipient-org-other-node`: to `om-dcu.inter-regional`, another node of the recipient's centre;
//! * `stranger`: onward to `ae-dcu.gulf`, a node nobody named.

use liaison_protocol::handling::{check_hop, check_network_hop, Addressing, Hop};
use liaison_protocol::ids::{NodeId, Timestamp};
use liaison_protocol::sample;
use liaison_protocol::{HandlingError, Recipient, Tlp};

fn n(s: &str) -> NodeId {
    s.parse().unwrap()
}

const ORIGIN: &str = "kz-dcu.central-asia";
const DEST: &str = "om-dcu.gulf";

/// Releasability variants.
fn releases() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "both-networks",
            vec!["network:central-asia", "network:gulf"],
        ),
        (
            "origin-network-only",
            vec!["network:central-asia", "om-dcu.gulf"],
        ),
        ("named-nodes", vec!["om-dcu.gulf", "caricc.central-asia"]),
        (
            "centres",
            vec!["centre:om-dcu", "centre:caricc", "centre:gcc-cic"],
        ),
    ]
}

/// (hop name, next hop, destination).
fn hops() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("direct", DEST, DEST),
        ("gateway-same-network", "caricc.central-asia", DEST),
        ("gateway-other-network", "gcc-cic.gulf", DEST),
        (
            "recipient-org-other-node",
            "om-dcu.inter-regional",
            "om-dcu.inter-regional",
        ),
        ("stranger", "ae-dcu.gulf", "ae-dcu.gulf"),
    ]
}

fn released(release: &[&str], node: &str) -> bool {
    let node = n(node);
    release.iter().any(|r| {
        r.parse::<liaison_protocol::Release>()
            .unwrap()
            .covers(&node)
    })
}

/// The expected outcome, written independently of the implementation from the rule table.
fn expected(
    tlp: Tlp,
    release: &[&str],
    oc: bool,
    next: &str,
    dest: &str,
) -> Result<(), &'static str> {
    if !released(release, next) || !released(release, dest) {
        return Err("releasability-violation");
    }
    match tlp {
        Tlp::Red if next != DEST => return Err("tlp-red-violation"),
        Tlp::AmberStrict if n(next).centre_str() != "om-dcu" => {
            return Err("tlp-amber-strict-violation")
        }
        _ => {}
    }
    if oc && dest != DEST {
        return Err("originator-control");
    }
    Ok(())
}

#[test]
fn handling_rule_table() {
    let tlps = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];
    let mut rows = 0;
    let mut refusals = std::collections::BTreeMap::<&str, usize>::new();
    for tlp in tlps {
        for (rname, release) in releases() {
            for oc in [false, true] {
                for (hname, next, dest) in hops() {
                    let mut h = sample::handling(tlp, &release);
                    h.originator_control = oc;
                    let recipients = vec![Recipient::Node(n(DEST))];
                    let a = Addressing {
                        originator: &n(ORIGIN),
                        recipients: &recipients,
                        handling: &h,
                        hop_limit: 4,
                        expires_at: None,
                    };
                    let hop = Hop {
                        next: &n(next),
                        destination: &n(dest),
                        route: &[],
                        now: sample::SAMPLE_TIME,
                        consented: &[],
                    };
                    let got = check_hop(&a, &hop).map_err(|e| e.reason_code());
                    let want = expected(tlp, &release, oc, next, dest);
                    assert_eq!(got, want, "{} / {rname} / oc={oc} / {hname}", tlp.label());
                    if let Err(code) = got {
                        *refusals.entry(code).or_default() += 1;
                    }
                    rows += 1;
                }
            }
        }
    }
    assert_eq!(rows, 5 * 4 * 2 * 5);
    // The table exercises every handling refusal, not just some.
    for code in [
        "releasability-violation",
        "tlp-red-violation",
        "tlp-amber-strict-violation",
        "originator-control",
    ] {
        assert!(
            refusals.contains_key(code),
            "{code} never produced: {refusals:?}"
        );
    }
}

fn alert_addressing_check(
    hop_route: &[NodeId],
    next: &str,
    now: Timestamp,
    expires: Option<Timestamp>,
) -> Result<(), HandlingError> {
    let h = sample::handling(
        Tlp::Amber,
        &[
            "network:central-asia",
            "network:gulf",
            "network:inter-regional",
        ],
    );
    let recipients = vec![Recipient::Node(n(DEST))];
    let a = Addressing {
        originator: &n(ORIGIN),
        recipients: &recipients,
        handling: &h,
        hop_limit: 3,
        expires_at: expires,
    };
    check_hop(
        &a,
        &Hop {
            next: &n(next),
            destination: &n(DEST),
            route: hop_route,
            now,
            consented: &[],
        },
    )
}

#[test]
fn hop_limit_expiry_and_loops() {
    let t = sample::SAMPLE_TIME;
    let route = [n("caricc.central-asia"), n("caricc.inter-regional")];
    assert!(alert_addressing_check(&route, "gcc-cic.inter-regional", t, None).is_ok());
    let long = [n("a.gulf"), n("b.gulf"), n("c.gulf")];
    assert_eq!(
        alert_addressing_check(&long, DEST, t, None)
            .unwrap_err()
            .reason_code(),
        "hop-limit-exceeded"
    );
    assert_eq!(
        alert_addressing_check(&[], DEST, t, Some(t))
            .unwrap_err()
            .reason_code(),
        "message-expired"
    );
    assert!(alert_addressing_check(&[], DEST, t, Some(t.plus_millis(1))).is_ok());
    assert_eq!(
        alert_addressing_check(&route, "caricc.central-asia", t, None)
            .unwrap_err()
            .reason_code(),
        "route-loop"
    );
    assert_eq!(
        alert_addressing_check(&[], ORIGIN, t, None)
            .unwrap_err()
            .reason_code(),
        "route-loop",
        "never back to the originator"
    );
}

#[test]
fn consent_widens_originator_control_for_that_destination_only() {
    let mut h = sample::handling(Tlp::Amber, &["network:gulf", "network:central-asia"]);
    h.originator_control = true;
    let recipients = vec![Recipient::Node(n(DEST))];
    let a = Addressing {
        originator: &n(ORIGIN),
        recipients: &recipients,
        handling: &h,
        hop_limit: 4,
        expires_at: None,
    };
    let ae = n("ae-dcu.gulf");
    let hop = |consented: &[NodeId]| {
        check_hop(
            &a,
            &Hop {
                next: &ae,
                destination: &ae,
                route: &[n(DEST)],
                now: sample::SAMPLE_TIME,
                consented,
            },
        )
        .map_err(|e| e.reason_code())
    };
    assert_eq!(hop(&[]), Err("originator-control"));
    assert_eq!(hop(std::slice::from_ref(&ae)), Ok(()));
    assert_eq!(hop(&[n("bh-dcu.gulf")]), Err("originator-control"));
}

#[test]
fn red_and_strict_must_name_nodes() {
    use liaison_protocol::handling::check_composition;
    for tlp in [Tlp::Red, Tlp::AmberStrict] {
        let h = sample::handling(tlp, &["network:gulf"]);
        let recipients = vec![Recipient::Network("gulf".parse().unwrap())];
        let a = Addressing {
            originator: &n(ORIGIN),
            recipients: &recipients,
            handling: &h,
            hop_limit: 4,
            expires_at: None,
        };
        assert_eq!(
            check_composition(&a).unwrap_err().reason_code(),
            "invalid-handling"
        );
    }
}

/// A copy for a whole network travelling through a relay: the network must be a named
/// recipient and released as a whole, the relay itself released; each node of the network is
/// judged again as a destination by the gateway that fans it out.
#[test]
fn network_copies_need_the_network_named_and_released_and_the_relay_released() {
    let check = |release: &[&str], to: &str, next: &str, h2: bool| {
        let mut h = sample::handling(Tlp::Amber, release);
        h.originator_control = h2;
        let recipients = vec![to.parse::<Recipient>().unwrap()];
        let a = Addressing {
            originator: &n(ORIGIN),
            recipients: &recipients,
            handling: &h,
            hop_limit: 8,
            expires_at: None,
        };
        let next = n(next);
        let hop = Hop {
            next: &next,
            destination: &next,
            route: &[],
            now: Timestamp(1),
            consented: &[],
        };
        check_network_hop(&a, &hop, &"gulf".parse().unwrap()).map_err(|e| e.reason_code())
    };
    let both = ["network:central-asia", "network:gulf"];
    assert_eq!(
        check(&both, "network:gulf", "caricc.central-asia", true),
        Ok(())
    );
    // The relay is not released.
    assert_eq!(
        check(
            &["network:gulf"],
            "network:gulf",
            "caricc.central-asia",
            false
        ),
        Err("releasability-violation")
    );
    // The network is released only node by node, not as a whole.
    assert_eq!(
        check(
            &["network:central-asia", "om-dcu.gulf"],
            "network:gulf",
            "caricc.central-asia",
            false
        ),
        Err("releasability-violation")
    );
    // Under originator control a network that is not named may not be reached.
    assert_eq!(
        check(&both, "om-dcu.gulf", "caricc.central-asia", true),
        Err("originator-control")
    );
}

/// TLP:RED passes only named recipient nodes: a relay that was not named refuses to pass it
/// on even when its next hop is named (a peer that ignored the rule handed it over), and a
/// named relay passes it to another named node.
#[test]
fn red_is_not_relayed_by_a_node_nobody_named() {
    let h = sample::handling(Tlp::Red, &["network:central-asia", "network:gulf"]);
    let recipients = vec![
        Recipient::Node(n("caricc.central-asia")),
        Recipient::Node(n(DEST)),
    ];
    let a = Addressing {
        originator: &n(ORIGIN),
        recipients: &recipients,
        handling: &h,
        hop_limit: 4,
        expires_at: None,
    };
    let check = |route: &[NodeId]| {
        check_hop(
            &a,
            &Hop {
                next: &n(DEST),
                destination: &n(DEST),
                route,
                now: sample::SAMPLE_TIME,
                consented: &[],
            },
        )
    };
    assert_eq!(check(&[n("caricc.central-asia")]), Ok(()));
    match check(&[n("gcc-cic.gulf")]) {
        Err(HandlingError::TlpRedViolation { node }) => assert_eq!(node, "gcc-cic.gulf"),
        other => panic!("{other:?}"),
    }
}
